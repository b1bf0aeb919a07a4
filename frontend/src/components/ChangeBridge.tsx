// The change bridge on the release page: gates, raising a change request from a
// preview of what will be sent, and release notes for each audience.
import { useMemo, useState } from "react";
import { useMutation, useQuery } from "urql";
import { Degraded, Skeleton } from "./common";
import type { Gate } from "../lib/releases";
import {
  defaultChangeTarget,
  FINISHED_CHANGE_STATES,
  openChangesElsewhere,
  sourceLabel,
  sourceNamed,
  type SourceLike,
} from "../lib/sources";
import { formatDateTime } from "../lib/time";
import { changeTypeWord, embeddedNotes, gateWord, riskWord } from "../lib/words";
import { ChangePreviewQuery, RaiseChangeMutation, ReleaseNotesQuery } from "../operations";
import type { Audience } from "../gql/graphql";

export function GateList({ gates }: { gates: readonly Gate[] }) {
  return (
    <ul className="gates" aria-label="Gates">
      {gates.map((g) => (
        <li key={g.name} className={g.passed ? "gate-pass" : "gate-fail"}>
          <span aria-hidden="true">{g.passed ? "✔" : "✖"}</span> <strong>{gateWord(g.name)}</strong>: {g.reason}
        </li>
      ))}
    </ul>
  );
}

// The server refuses a second change in play in one ITSM unless asked with a reason this long.
const MIN_REASON_CHARS = 10;

type LinkedChange = { number: string; state: string; stateLabel: string; source: { name: string } };

export function RaiseChangeRequest({
  releaseKey,
  releaseId,
  itsmSources,
  changes,
  onRaised,
}: {
  releaseKey: string;
  releaseId: string;
  itsmSources: readonly SourceLike[];
  changes: readonly LinkedChange[];
  onRaised: () => void;
}) {
  const [source, setSource] = useState(() => defaultChangeTarget(itsmSources, changes));
  // Once raised here, the panel stays disarmed even before the refreshed changes arrive.
  const [raisedIn, setRaisedIn] = useState<Set<string>>(() => new Set());
  const openChange =
    changes.find((c) => c.source.name === source && !FINISHED_CHANGE_STATES.has(c.state)) ??
    (raisedIn.has(source) ? { number: "The change just raised", state: "NEW", stateLabel: "just raised", source: { name: source } } : undefined);
  const elsewhere = openChangesElsewhere(changes, source);
  const [additional, setAdditional] = useState(false);
  const [reason, setReason] = useState("");
  const reasonOk = reason.trim().length >= MIN_REASON_CHARS;
  // One key per composed request: a retry after a lost answer raises it once.
  const [key, setKey] = useState(() => crypto.randomUUID());
  const [acknowledged, setAcknowledged] = useState(false);
  const [{ data, fetching, error }] = useQuery({ query: ChangePreviewQuery, variables: { key: releaseKey } });
  const [raised, raise] = useMutation(RaiseChangeMutation);
  const [done, setDone] = useState<string | null>(null);
  const preview = data?.release?.changePreview;
  const warnings = preview?.warnings ?? [];

  const submit = async () => {
    setDone(null);
    const result = await raise({
      releaseId,
      source,
      key,
      acknowledgeBlackout: acknowledged,
      additional: openChange && additional ? { reason: reason.trim() } : null,
    });
    if (result.error?.graphQLErrors.some((e) => e.extensions?.code === "CONFLICT")) {
      // Someone raised one meanwhile: show it (the refusal names it) instead of the button.
      onRaised();
    }
    const payload = result.data?.raiseChangeRequest;
    if (payload) {
      const c = payload.changeRequest;
      setDone(`${c.number} ${payload.created ? "raised" : "was already raised"} in ${sourceLabel(c.source)}: ${c.stateLabel}`);
      setKey(crypto.randomUUID());
      setRaisedIn((current) => new Set(current).add(source));
      setAdditional(false);
      setReason("");
      onRaised();
    }
  };

  return (
    <div className="card raise" aria-labelledby="raise-title">
      <h3 id="raise-title">Raise change request</h3>
      <label className="inline">
        Target system
        <select value={source} onChange={(e) => setSource(e.target.value)}>
          {itsmSources.map((s) => (
            <option key={s.name} value={s.name}>
              {sourceLabel(s)}
            </option>
          ))}
        </select>
      </label>
      {fetching && !preview ? <Skeleton rows={3} label="Composing the change request" /> : null}
      <Degraded error={error} />
      {preview ? (
        <dl className="preview" aria-label="Preview of the change request">
          <dt>Title</dt>
          <dd>{preview.title}</dd>
          <dt>Type / risk</dt>
          <dd>
            {changeTypeWord(preview.type)} / {riskWord(preview.risk)}
            {preview.riskReasons.length ? <span className="muted"> ({preview.riskReasons.join("; ")})</span> : null}
          </dd>
          <dt>Window</dt>
          <dd>
            {formatDateTime(preview.plannedStart)} → {formatDateTime(preview.plannedEnd)}
          </dd>
          <dt>Configuration items</dt>
          <dd>{preview.configurationItems.join(", ") || "—"}</dd>
          <dt>Tickets</dt>
          <dd>{preview.linkedTickets.join(", ") || "—"}</dd>
          <dt>Description</dt>
          <dd className="pre" tabIndex={0} aria-label="Description">{preview.description}</dd>
          <dt>Backout plan</dt>
          <dd className="pre" tabIndex={0} aria-label="Backout plan">{preview.backoutPlan}</dd>
          <dt>Test evidence</dt>
          <dd className="pre" tabIndex={0} aria-label="Test evidence">{preview.testEvidence}</dd>
        </dl>
      ) : null}
      {warnings.length > 0 ? (
        <div className="banner banner-warn" role="note">
          {warnings.map((w) => (
            <div key={w}>⚠ {w}</div>
          ))}
          <label className="inline">
            <input type="checkbox" checked={acknowledged} onChange={(e) => setAcknowledged(e.target.checked)} />
            Raise it inside the blackout anyway
          </label>
        </div>
      ) : null}
      <Degraded error={raised.error} />
      {done ? (
        <div className="banner banner-ok" role="status">
          {done}
        </div>
      ) : null}
      {openChange ? (
        <div className="banner banner-warn" role="note" data-open-change={openChange.number}>
          <div>
            {openChange.number} is still open in {sourceLabel(sourceNamed(source, itsmSources))} ({openChange.stateLabel}): the release
            needs no other change there.
          </div>
          <label className="inline">
            <input type="checkbox" checked={additional} onChange={(e) => setAdditional(e.target.checked)} />
            Raise an additional change anyway
          </label>
          {additional ? (
            <label>
              Why another change is needed (at least {MIN_REASON_CHARS} characters, audited)
              <textarea value={reason} onChange={(e) => setReason(e.target.value)} rows={2} />
            </label>
          ) : null}
        </div>
      ) : null}
      {!openChange && elsewhere.length > 0 ? (
        <div className="banner banner-warn" role="note" data-open-elsewhere={elsewhere.map((c) => c.number).join(" ")}>
          {elsewhere.map((c) => (
            <div key={c.number}>
              {c.number} is still open in {sourceLabel(sourceNamed(c.source.name, itsmSources))} ({c.stateLabel}): a change
              in {sourceLabel(sourceNamed(source, itsmSources))} would be the release&apos;s second.
            </div>
          ))}
        </div>
      ) : null}
      {!openChange || additional ? (
        <button
          type="button"
          className="primary"
          onClick={submit}
          disabled={
            raised.fetching || !source || (warnings.length > 0 && !acknowledged) || (!!openChange && !reasonOk)
          }
          aria-busy={raised.fetching}
        >
          {raised.fetching
            ? `Raising in ${sourceLabel(sourceNamed(source, itsmSources))}…`
            : openChange
              ? `Raise an additional change in ${sourceLabel(sourceNamed(source, itsmSources))}`
              : `Raise in ${sourceLabel(sourceNamed(source, itsmSources))}`}
        </button>
      ) : null}
    </div>
  );
}

export function ReleaseNotes({ releaseKey }: { releaseKey: string }) {
  const [audience, setAudience] = useState<Audience>("DEVELOPMENT");
  const variables = useMemo(() => ({ key: releaseKey, audience }), [releaseKey, audience]);
  const [{ data, fetching, error }] = useQuery({ query: ReleaseNotesQuery, variables });
  return (
    <div>
      <div role="tablist" aria-label="Release notes audience" className="tabs">
        {(["DEVELOPMENT", "OPERATIONS"] as const).map((a) => (
          <button key={a} role="tab" type="button" aria-selected={audience === a} onClick={() => setAudience(a)}>
            {a === "DEVELOPMENT" ? "Development" : "Operations"}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        <Degraded error={error} />
        {fetching && !data ? <Skeleton rows={4} label="Writing release notes" /> : (
          // The server escapes every upstream word before it writes the HTML.
          <div className="notes" dangerouslySetInnerHTML={{ __html: embeddedNotes(data?.release?.releaseNotes ?? "") }} />
        )}
      </div>
    </div>
  );
}
