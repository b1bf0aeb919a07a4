import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery } from "urql";
import {
  ApprovalBadge,
  Badge,
  Degraded,
  Empty,
  ExportLink,
  OverdueMark,
  OverrideMark,
  PageHeader,
  ReadinessBar,
  RoleNote,
  Skeleton,
  StatusBadge,
  UpstreamWord,
  When,
  Window,
} from "../components/common";
import { GateList, RaiseChangeRequest, ReleaseNotes } from "../components/ChangeBridge";
import { LinkName, LinkPicker } from "../components/LinkPicker";
import { ReleaseBookings } from "../components/Bookings";
import { ReleaseConflicts } from "../components/Conflicts";
import { DeploymentPlan } from "../components/Plan";
import { useLiveRefresh } from "../components/live";
import { ReleaseForm } from "../components/ReleaseForm";
import { usePlanningRefusal } from "../components/session";
import { errorText } from "../lib/errors";
import { exportHref, releaseOverdue } from "../lib/lists";
import { availableMoves, underOverride } from "../lib/releases";
import { isBrokenLink, raisesChanges, sourceLabel, sourceNamed, sourceProblems, workKindLabel } from "../lib/sources";
import { displayZone, formatAge, fromInputValue } from "../lib/time";
import { changeStateWord, count, describeAudit, linkKindWord, releaseStatusWord, releaseTypeWord, workStatusWord } from "../lib/words";
import { AddPhaseMutation, DeletePhaseMutation, DeleteReleaseMutation, ReleaseLiveSubscription, ReleaseQuery, TransitionMutation, UnlinkSourceMutation } from "../operations";
import type { ReleaseStatus } from "../gql/graphql";

function ageOf(iso: string | null | undefined): string {
  return iso ? formatAge((Date.now() - new Date(iso).getTime()) / 1000) : "never";
}

export default function ReleasePage() {
  const { key = "" } = useParams();
  const [{ data, fetching, error }, refetch] = useQuery({ query: ReleaseQuery, variables: { key } });
  // A write anywhere (this page, another user, an ITSM's decision) shows here at once.
  useLiveRefresh(ReleaseLiveSubscription, { key }, () => refetch({ requestPolicy: "network-only" }), !data?.release);
  const [transition, transitionRelease] = useMutation(TransitionMutation);
  const [reason, setReason] = useState("");
  const [refusal, setRefusal] = useState<string | null>(null);
  const [override, setOverride] = useState(false);
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleted, deleteRelease] = useMutation(DeleteReleaseMutation);
  const [unlinked, unlink] = useMutation(UnlinkSourceMutation);
  const [writeError, setWriteError] = useState<string | null>(null);
  const refusedByRole = usePlanningRefusal();
  const navigate = useNavigate();

  if (!data && fetching) return <Skeleton rows={10} label="Loading the release" />;
  const release = data?.release;
  if (!release) {
    return (
      <>
        <Degraded error={error} />
        <Empty title={`No release ${key}.`}>
          <Link to="/releases">All releases</Link>
        </Empty>
      </>
    );
  }

  const problems = sourceProblems(error?.graphQLErrors);
  const staleAge = new Map(problems.map((p) => [p.source, p]));
  const sources = data?.sources ?? [];
  const itsmSources = sources.filter(raisesChanges);
  const items = release.workItems.nodes;
  const gates = release.gates;
  const moves = availableMoves(release.availableTransitions, gates);
  const reload = () => refetch({ requestPolicy: "network-only" });
  const overridden = underOverride(release.status, release.history);
  const overdue = releaseOverdue(release, new Date());
  const approvedChange = release.changeRequests.find((c) => c.approval === "APPROVED");
  const linkedKeys = release.links.map((l) => `${l.source}:${l.externalKey}`);

  const remove = async () => {
    const result = await deleteRelease({ id: release.id, expectedVersion: release.version });
    if (result.error) setWriteError(errorText(result.error));
    else navigate("/releases", { replace: true });
  };
  const removeLink = async (id: string) => {
    setWriteError(null);
    const result = await unlink({ id });
    if (result.error) setWriteError(errorText(result.error));
    else reload();
  };

  const move = async (to: string) => {
    setRefusal(null);
    const overriding = override && to === "DEPLOYING";
    const result = await transitionRelease({
      id: release.id,
      to: to as ReleaseStatus,
      reason,
      override: overriding ? { reason } : null,
      // Refused with CONFLICT if anyone changed the release since this page read it.
      expectedVersion: release.version,
    });
    if (result.error) {
      setRefusal(result.error.graphQLErrors.map((e) => e.message).join("; ") || result.error.message);
      if (result.error.graphQLErrors.some((e) => e.extensions?.code === "CONFLICT")) {
        refetch({ requestPolicy: "network-only" }); // show what it is now
      }
    } else {
      setReason("");
      setOverride(false);
    }
  };

  return (
    <article aria-labelledby="page-title">
      <PageHeader title={`${release.key} · ${release.name}`}>
        <span data-testid="release-status">
          <StatusBadge status={release.status} />
        </span>
        {overridden ? <OverrideMark /> : null}
        {overdue ? <OverdueMark what={release.key} /> : null}
        <button type="button" onClick={() => setEditing(true)} disabled={!!refusedByRole || editing} title={refusedByRole ?? undefined}>
          Edit release
        </button>
        <button type="button" className="danger" onClick={() => setConfirmDelete(true)} disabled={!!refusedByRole} title={refusedByRole ?? undefined}>
          Delete release
        </button>
      </PageHeader>
      <RoleNote refusal={refusedByRole} />
      <Degraded error={error} />
      {confirmDelete ? (
        <div className="banner banner-warn" role="alertdialog" aria-labelledby="delete-title">
          <p id="delete-title">
            Delete {release.key}? Its phases and links go with it{release.children.length ? `; ${count(release.children.length, "child release")} lose their parent` : ""}. Nothing upstream is touched.
          </p>
          <div className="button-row">
            <button type="button" className="danger" onClick={remove} disabled={deleted.fetching}>
              Delete {release.key}
            </button>
            <button type="button" onClick={() => setConfirmDelete(false)}>
              Keep it
            </button>
          </div>
        </div>
      ) : null}
      {writeError ? (
        <div className="banner banner-error" role="alert">
          {writeError}
        </div>
      ) : null}
      {editing ? (
        <ReleaseForm
          release={release}
          onCancel={() => setEditing(false)}
          onDone={(newKey) => {
            setEditing(false);
            if (newKey !== release.key) navigate(`/releases/${encodeURIComponent(newKey)}`, { replace: true });
            else reload();
          }}
        />
      ) : null}
      <p className="muted">
        {releaseTypeWord(release.type)} release of {release.applications.map((a) => a.name).join(", ") || "no application"}, window{" "}
        <Window start={release.windowStart} end={release.windowEnd} />
      </p>

      {/* What a release manager comes for first: conflicts, readiness and gates, the
          work and the change; then what is set up once (links, bookings, plan). */}
      <ReleaseConflicts release={release} />
      <div className="grid-2">
        <section className="card" aria-labelledby="readiness-title">
          <h2 id="readiness-title">Readiness</h2>
          <ReadinessBar readiness={release.readiness} />
          <table className="table compact">
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Done</th>
                <th scope="col">Data</th>
              </tr>
            </thead>
            <tbody>
              {release.readiness.perSource.map((s) => {
                const info = sources.find((x) => x.name === s.source);
                const problem = staleAge.get(s.source);
                return (
                  <tr key={s.source} data-source={s.source}>
                    <td>{sourceLabel(info ?? { name: s.source })}</td>
                    <td>
                      {s.done} / {s.total}
                    </td>
                    <td>
                      {!s.available ? (
                        <Badge tone="bad">{isBrokenLink(s.problemCode) ? "link broken" : "unavailable"}</Badge>
                      ) : s.stale ? (
                        <Badge tone="warn">stale{problem?.ageSeconds != null ? `, ${formatAge(problem.ageSeconds)}` : ""}</Badge>
                      ) : (
                        <span className="muted">live, read {ageOf(info?.lastSuccessAt)}</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {release.readiness.perSource
            .filter((s) => s.problem)
            .map((s) => (
              <p key={`problem-${s.source}`} className="banner banner-warn" data-source-problem={s.source}>
                ⚠ {s.problem}
              </p>
            ))}
          <p>
            {release.changeRequests.length === 0 ? (
              <span className="muted">No change request yet.</span>
            ) : release.readiness.changeApproved || approvedChange ? (
              <>
                Change approved: <strong>yes</strong>
                {approvedChange && !release.readiness.changeApproved ? (
                  <span className="muted">
                    {" "}
                    ({approvedChange.number}, {changeStateWord(approvedChange.state).toLowerCase()})
                  </span>
                ) : null}
              </>
            ) : (
              <>
                Change approved: <strong>not yet</strong>
              </>
            )}
            {release.readiness.openBlockers.length > 0 ? (
              <>
                {" "}
                · {count(release.readiness.openBlockers.length, "open blocker")}:{" "}
                {release.readiness.openBlockers.map((b) => (
                  <a key={b.id} href={b.url} target="_blank" rel="noreferrer" className="chip">
                    {b.key}
                  </a>
                ))}
              </>
            ) : null}
          </p>
        </section>

        <section className="card" aria-labelledby="moves-title">
          <h2 id="moves-title">Move the release</h2>
          {gates.length > 0 && release.status === "READY" ? <GateList gates={gates} /> : null}
          {moves.length === 0 ? (
            <p className="muted">This release is {releaseStatusWord(release.status).toLowerCase()}; it does not move any more.</p>
          ) : (
            <>
              <label>
                Reason (recorded in the history)
                <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="Optional" />
              </label>
              <div className="button-row">
                {moves.map((m) => (
                  <button
                    key={m.to}
                    type="button"
                    className={m.to === "CANCELLED" ? "danger" : ""}
                    disabled={!!refusedByRole || transition.fetching || (m.blockedBy.length > 0 && !(override && reason.trim()))}
                    title={refusedByRole ?? (m.blockedBy.join("; ") || undefined)}
                    onClick={() => move(m.to)}
                  >
                    {m.label}
                  </button>
                ))}
              </div>
              {transition.fetching ? (
                <p role="status" className="muted">
                  Checking gates and moving the release…
                </p>
              ) : null}
              {moves.some((m) => m.blockedBy.length > 0) ? (
                <>
                  <p className="muted">Deploying is held back until every gate passes.</p>
                  <label className="inline">
                    <input type="checkbox" checked={override} onChange={(e) => setOverride(e.target.checked)} />
                    Override the failing gates (release managers; needs a reason; audited)
                  </label>
                </>
              ) : null}
            </>
          )}
          {refusal ? (
            <div className="banner banner-error" role="alert" data-testid="transition-refused">
              Refused: {refusal}
            </div>
          ) : null}
        </section>
      </div>

      <section className="card" aria-labelledby="items-title">
        <div className="section-head">
          <h2 id="items-title">Work items ({release.workItems.totalCount})</h2>
          <ExportLink href={exportHref("work-items", { release: release.key })} what="work items" />
        </div>
        {items.length === 0 ? (
          <Empty
            title={
              release.links.length === 0
                ? "No work linked."
                : release.readiness.perSource.some((s) => !s.available)
                  ? "No work items could be read: see Readiness for the source that failed."
                  : "No work items found in the linked records."
            }
          />
        ) : (
          <table className="table compact">
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">Source</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Assignee</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.id} data-kind={item.__typename}>
                  <td>
                    <a href={item.url} target="_blank" rel="noreferrer">
                      {item.key}
                    </a>{" "}
                    {item.title}
                  </td>
                  <td>{sourceLabel(item.source)}</td>
                  <td>
                    {workKindLabel(item.kind)}
                  </td>
                  <td className="status-cell">
                    <Badge tone={item.status.toLowerCase()}>{workStatusWord(item.status)}</Badge>{" "}
                    <UpstreamWord ours={workStatusWord(item.status)} word={item.statusLabel} />
                  </td>
                  <td>{item.assignee ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card" aria-labelledby="changes-title">
        <h2 id="changes-title">Change requests</h2>
        {release.changeRequests.length === 0 ? (
          <Empty title="No change request yet." />
        ) : (
          <table className="table compact">
            <thead>
              <tr>
                <th scope="col">Number</th>
                <th scope="col">System</th>
                <th scope="col">State</th>
                <th scope="col">Approval</th>
                <th scope="col">Planned</th>
              </tr>
            </thead>
            <tbody>
              {release.changeRequests.map((c) => (
                <tr key={c.id} data-change={c.number}>
                  <td>
                    <a href={c.url} target="_blank" rel="noreferrer">
                      {c.number}
                    </a>{" "}
                    {c.title}
                  </td>
                  <td>{sourceLabel(c.source)}</td>
                  <td>
                    {changeStateWord(c.state)} <UpstreamWord ours={changeStateWord(c.state)} word={c.stateLabel} title="The ITSM's own state word" />
                  </td>
                  <td>
                    <ApprovalBadge approval={c.approval} />
                  </td>
                  <td>
                    <Window start={c.plannedStart} end={c.plannedEnd} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {itsmSources.length > 0 && !refusedByRole && release.status !== "DEPLOYED" && release.status !== "CANCELLED" ? (
          <RaiseChangeRequest
            releaseKey={release.key}
            releaseId={release.id}
            itsmSources={itsmSources}
            changes={release.changeRequests}
            onRaised={() => refetch({ requestPolicy: "network-only" })}
          />
        ) : null}
      </section>

      <div className="grid-2">
        <section className="card" aria-labelledby="links-title">
          <h2 id="links-title">Linked upstream</h2>
          {release.links.length === 0 ? (
            <Empty title="No work linked.">Link a version, a milestone or a change request below.</Empty>
          ) : (
            <table className="table compact">
              <thead>
                <tr>
                  <th scope="col">What</th>
                  <th scope="col">Where</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {release.links.map((l) => (
                  <tr key={l.id} data-link={l.externalKey}>
                    <td>
                      {linkKindWord(l.kind)}{" "}
                      <LinkName source={l.source} kind={l.kind} externalKey={l.externalKey} projects={release.applications.flatMap((a) => a.projects)} />
                    </td>
                    <td>{sourceLabel(sourceNamed(l.source, sources))}</td>
                    <td>
                      <button type="button" className="link-like" onClick={() => removeLink(l.id)} disabled={!!refusedByRole || unlinked.fetching} title={refusedByRole ?? undefined}>
                        Unlink<span className="sr-only"> {l.externalKey}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {refusedByRole ? null : (
            <LinkPicker releaseId={release.id} applications={release.applications} sources={sources} linkedKeys={linkedKeys} onLinked={reload} />
          )}
        </section>
        <section className="card" aria-labelledby="family-title">
          <h2 id="family-title">Parent and children</h2>
          <p>
            Part of:{" "}
            {release.parent ? (
              <Link to={`/releases/${encodeURIComponent(release.parent.key)}`}>
                {release.parent.key} · {release.parent.name}
              </Link>
            ) : (
              <span className="muted">no parent release</span>
            )}
          </p>
          {release.children.length === 0 ? (
            <p className="muted">No child releases.</p>
          ) : (
            <ul className="plain">
              {release.children.map((c) => (
                <li key={c.id}>
                  <Link to={`/releases/${encodeURIComponent(c.key)}`}>{c.key}</Link> {c.name} <StatusBadge status={c.status} />{" "}
                  <Window start={c.windowStart} end={c.windowEnd} />
                </li>
              ))}
            </ul>
          )}
          <h2 id="phases-title">Phases</h2>
          {release.phases.length === 0 ? (
            <p className="muted">No phases planned.</p>
          ) : (
            <PhaseList releaseId={release.id} phases={release.phases} refusal={refusedByRole} onChanged={reload} />
          )}
          {refusedByRole ? null : <AddPhase releaseId={release.id} next={release.phases.length} onAdded={reload} />}
        </section>
      </div>

      <ReleaseBookings
        releaseKey={release.key}
        closed={
          release.status === "DEPLOYED" || release.status === "CANCELLED"
            ? `${release.key} is ${releaseStatusWord(release.status).toLowerCase()}: it books no more environments.`
            : null
        }
      />
      <DeploymentPlan releaseKey={release.key} />

      <div className="grid-2">
        <section className="card" aria-labelledby="deploy-title">
          <h2 id="deploy-title">Deployments</h2>
          {release.deployments.length === 0 ? (
            <Empty title="Not deployed anywhere yet." />
          ) : (
            <ul className="plain">
              {release.deployments.map((d) => (
                <li key={d.id}>
                  <strong>{d.environment}</strong> {d.ref} · {d.stateLabel} · <When iso={d.updatedAt} />
                </li>
              ))}
            </ul>
          )}
        </section>
        <section className="card" aria-labelledby="history-title">
          <h2 id="history-title">History</h2>
          {release.history.length === 0 ? (
            <Empty title="No changes recorded." />
          ) : (
            <ol className="history">
              {release.history.map((h) => (
                <li key={h.id}>
                  <span className="muted">
                    <When iso={h.at} />
                  </span>{" "}
                  {h.actor}: {describeAudit(h)}
                  {h.reason ? <em> — “{h.reason}”</em> : null}
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>

      <section className="card" aria-labelledby="notes-title">
        <h2 id="notes-title">Release notes</h2>
        <ReleaseNotes releaseKey={release.key} />
      </section>
    </article>
  );
}

type Phase = { id: string; name: string; position: number; start?: string | null; end?: string | null };

function PhaseList({ phases, refusal, onChanged }: { releaseId: string; phases: readonly Phase[]; refusal: string | null; onChanged: () => void }) {
  const [removing, remove] = useMutation(DeletePhaseMutation);
  const [problem, setProblem] = useState<string | null>(null);
  const ordered = [...phases].sort((a, b) => a.position - b.position);
  return (
    <>
      <ol className="phases">
        {ordered.map((p) => (
          <li key={p.id} data-phase={p.name}>
            <strong>{p.name}</strong> <Window start={p.start} end={p.end} />{" "}
            <button
              type="button"
              className="link-like"
              disabled={!!refusal || removing.fetching}
              title={refusal ?? undefined}
              onClick={async () => {
                const result = await remove({ id: p.id });
                if (result.error) setProblem(errorText(result.error));
                else onChanged();
              }}
            >
              Remove<span className="sr-only"> phase {p.name}</span>
            </button>
          </li>
        ))}
      </ol>
      {problem ? (
        <div className="banner banner-error" role="alert">
          {problem}
        </div>
      ) : null}
    </>
  );
}

function AddPhase({ releaseId, next, onAdded }: { releaseId: string; next: number; onAdded: () => void }) {
  const [adding, add] = useMutation(AddPhaseMutation);
  const [name, setName] = useState("");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const result = await add({
      releaseId,
      input: { name: name.trim(), position: next, start: start ? fromInputValue(start) : null, end: end ? fromInputValue(end) : null },
    });
    if (result.error) setProblem(errorText(result.error));
    else {
      setName("");
      setStart("");
      setEnd("");
      onAdded();
    }
  };
  return (
    <form className="inline-form" onSubmit={submit} aria-label="Add a phase">
      <label>
        Phase name
        <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="System test" />
      </label>
      <label>
        Starts ({displayZone()})
        <input type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} />
      </label>
      <label>
        Ends
        <input type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} />
      </label>
      <button type="submit" disabled={adding.fetching || !name.trim()}>
        Add phase
      </button>
      {problem ? (
        <div className="banner banner-error" role="alert">
          {problem}
        </div>
      ) : null}
    </form>
  );
}
