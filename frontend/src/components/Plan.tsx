// A release's deployment plan (runbook): start it from a template or the previous
// release's plan, then run it activity by activity with notes; every move is audited
// on the server. Controls a role may not use, or that the plan's order forbids, say why.
import { useState } from "react";
import { useMutation, useQuery } from "urql";
import { Badge } from "./common";
import { usePlanningRefusal } from "./session";
import { errorText } from "../lib/errors";
import { activityControls, activityStatusWord } from "../lib/plans";
import { formatWindow } from "../lib/time";
import {
  CompleteActivityMutation,
  CreatePlanMutation,
  FailActivityMutation,
  ReleasePlanQuery,
  SkipActivityMutation,
  StartActivityMutation,
} from "../operations";
import type { PlanFieldsFragment } from "../gql/graphql";

type Activity = PlanFieldsFragment["activities"][number];

const TONES: Record<string, string> = { DONE: "ok", IN_PROGRESS: "warn", FAILED: "bad", SKIPPED: "muted" };

export function DeploymentPlan({ releaseKey }: { releaseKey: string }) {
  const [{ data, error }, refetch] = useQuery({ query: ReleasePlanQuery, variables: { key: releaseKey } });
  const reload = () => refetch({ requestPolicy: "network-only" });
  const refusal = usePlanningRefusal();
  const release = data?.release;
  return (
    <section className="card" aria-labelledby="plan-title">
      <h2 id="plan-title">Deployment plan</h2>
      {error ? <p className="banner banner-error" role="alert">{errorText(error)}</p> : null}
      {!release ? (
        <p className="muted">Reading the plan…</p>
      ) : release.plan ? (
        <PlanRun plan={release.plan} refusal={refusal} onChanged={reload} />
      ) : (
        <StartPlan releaseId={release.id} templates={data.planTemplates} refusal={refusal} onCreated={reload} />
      )}
    </section>
  );
}

function StartPlan({
  releaseId,
  templates,
  refusal,
  onCreated,
}: {
  releaseId: string;
  templates: readonly { id: string; name: string; description: string }[];
  refusal: string | null;
  onCreated: () => void;
}) {
  const [template, setTemplate] = useState(templates[0]?.name ?? "");
  const [creating, create] = useMutation(CreatePlanMutation);
  const [problem, setProblem] = useState<string | null>(null);
  const run = async (variables: { template: string | null; copyPrevious: boolean }) => {
    const result = await create({ releaseId, ...variables });
    if (result.error) setProblem(errorText(result.error));
    else onCreated();
  };
  const chosen = templates.find((t) => t.name === template);
  return (
    <div className="plan-start">
      <p className="muted">No plan yet.</p>
      <div className="inline-form">
        <label>
          Template
          <select value={template} onChange={(e) => setTemplate(e.target.value)} disabled={!!refusal}>
            {templates.map((t) => (
              <option key={t.id} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={!!refusal || !template || creating.fetching} title={refusal ?? undefined} onClick={() => run({ template, copyPrevious: false })}>
          Start from the template
        </button>
        <button type="button" disabled={!!refusal || creating.fetching} title={refusal ?? undefined} onClick={() => run({ template: null, copyPrevious: true })}>
          Copy the previous release's plan
        </button>
      </div>
      {chosen?.description ? <p className="muted">{chosen.description}</p> : null}
      {refusal ? <p className="muted role-note">{refusal}</p> : null}
      {problem ? <p className="banner banner-error" role="alert">{problem}</p> : null}
    </div>
  );
}

function PlanRun({ plan, refusal, onChanged }: { plan: PlanFieldsFragment; refusal: string | null; onChanged: () => void }) {
  const progress = plan.progress.filter((p) => p.count > 0).map((p) => `${p.count} ${activityStatusWord(p.status).toLowerCase()}`);
  return (
    <>
      <p className="muted">
        From {plan.origin || "scratch"} · {progress.join(", ") || "no activities"}
      </p>
      {refusal ? <p className="muted role-note">{refusal}</p> : null}
      <ol className="plan-activities" aria-label="Activities">
        {plan.activities.map((a) => (
          <ActivityItem key={a.id} activity={a} all={plan.activities} refusal={refusal} onChanged={onChanged} />
        ))}
      </ol>
    </>
  );
}

function ActivityItem({ activity, all, refusal, onChanged }: { activity: Activity; all: readonly Activity[]; refusal: string | null; onChanged: () => void }) {
  const controls = activityControls(activity, all, refusal);
  const [note, setNote] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [started, start] = useMutation(StartActivityMutation);
  const [completed, complete] = useMutation(CompleteActivityMutation);
  const [failed, fail] = useMutation(FailActivityMutation);
  const [skipped, skip] = useMutation(SkipActivityMutation);
  const busy = started.fetching || completed.fetching || failed.fetching || skipped.fetching;
  const needsNote = note.trim() ? null : "Say why in the note.";
  const act = async (run: (v: { id: string; note: string }) => Promise<{ error?: Parameters<typeof errorText>[0] }>) => {
    const result = await run({ id: activity.id, note });
    if (result.error) setProblem(errorText(result.error));
    else {
      setProblem(null);
      setNote("");
      onChanged();
    }
  };
  const failReason = controls.fail ?? needsNote;
  const skipReason = controls.skip ?? needsNote;
  const noteId = `note-${activity.id}`;
  return (
    <li className="plan-activity" data-activity={activity.title} data-status={activity.status}>
      <div>
        <Badge tone={TONES[activity.status]}>{activityStatusWord(activity.status)}</Badge> <strong>{activity.title}</strong>
        <span className="muted">
          {" "}
          · {activity.owner || "no owner"}
          {activity.environment ? ` · ${activity.environment.name}` : ""}
          {activity.plannedStart ? ` · ${formatWindow(activity.plannedStart, activity.plannedEnd)}` : ""}
        </span>
      </div>
      {activity.startedBy || activity.finishedBy || activity.outcomeNote ? (
        <p className="muted">
          {activity.startedBy ? `Started by ${activity.startedBy}. ` : ""}
          {activity.finishedBy ? `${activityStatusWord(activity.status)} by ${activity.finishedBy}. ` : ""}
          {activity.outcomeNote ? `Note: ${activity.outcomeNote}` : ""}
        </p>
      ) : null}
      {activity.status === "DONE" || activity.status === "SKIPPED" ? null : (
        <div className="inline-form">
          <label htmlFor={noteId}>
            Note<span className="sr-only"> on {activity.title}</span>
          </label>
          <input id={noteId} value={note} onChange={(e) => setNote(e.target.value)} disabled={!!refusal} />
          <button type="button" disabled={busy || !!controls.start} title={controls.start ?? undefined} onClick={() => act(start)}>
            {activity.status === "FAILED" ? "Retry" : "Start"}
          </button>
          <button type="button" disabled={busy || !!controls.complete} title={controls.complete ?? undefined} onClick={() => act(complete)}>
            Complete
          </button>
          <button type="button" className="danger" disabled={busy || !!failReason} title={failReason ?? undefined} onClick={() => act(fail)}>
            Fail
          </button>
          <button type="button" disabled={busy || !!skipReason} title={skipReason ?? undefined} onClick={() => act(skip)}>
            Skip
          </button>
        </div>
      )}
      {problem ? <p className="banner banner-error" role="alert">{problem}</p> : null}
    </li>
  );
}
