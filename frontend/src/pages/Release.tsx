import { useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery } from "urql";
import { ApprovalBadge, Badge, Degraded, Empty, PageHeader, ReadinessBar, Skeleton, StatusBadge } from "../components/common";
import { GateList, RaiseChangeRequest, ReleaseNotes } from "../components/ChangeBridge";
import { availableMoves } from "../lib/releases";
import { raisesChanges, sourceLabel, sourceProblems, workKindLabel } from "../lib/sources";
import { formatAge, formatDateTime, formatWindow } from "../lib/time";
import { ReleaseQuery, TransitionMutation } from "../operations";
import type { ReleaseStatus } from "../gql/graphql";

function ageOf(iso: string | null | undefined): string {
  return iso ? formatAge((Date.now() - new Date(iso).getTime()) / 1000) : "never";
}

export default function ReleasePage() {
  const { key = "" } = useParams();
  const [{ data, fetching, error }, refetch] = useQuery({ query: ReleaseQuery, variables: { key } });
  const [transition, transitionRelease] = useMutation(TransitionMutation);
  const [reason, setReason] = useState("");
  const [refusal, setRefusal] = useState<string | null>(null);
  const [override, setOverride] = useState(false);

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
        <StatusBadge status={release.status} />
      </PageHeader>
      <Degraded error={error} />
      <p className="muted">
        {release.type[0] + release.type.slice(1).toLowerCase()} release of {release.applications.map((a) => a.name).join(", ") || "no application"},
        window {formatWindow(release.windowStart, release.windowEnd)}
      </p>

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
                        <Badge tone="bad">unavailable</Badge>
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
          <p>
            Change approved: <strong>{release.readiness.changeApproved ? "yes" : "no"}</strong>
            {release.readiness.openBlockers.length > 0 ? (
              <>
                {" "}
                · Open blockers:{" "}
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
            <p className="muted">This release is {release.status.toLowerCase()}; it does not move any more.</p>
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
                    disabled={transition.fetching || (m.blockedBy.length > 0 && !(override && reason.trim()))}
                    title={m.blockedBy.join("; ") || undefined}
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
        <h2 id="items-title">Work items ({release.workItems.totalCount})</h2>
        {items.length === 0 ? (
          <Empty title="No work items linked." />
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
                  <td>
                    <Badge tone={item.status.toLowerCase()}>{item.status.replace("_", " ").toLowerCase()}</Badge>{" "}
                    <span className="upstream-word" title="The upstream's own word">
                      {item.statusLabel}
                    </span>
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
                    {c.stateLabel} <span className="muted">({c.state.toLowerCase()})</span>
                  </td>
                  <td>
                    <ApprovalBadge approval={c.approval} />
                  </td>
                  <td className="nowrap">{formatWindow(c.plannedStart, c.plannedEnd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {itsmSources.length > 0 && release.status !== "DEPLOYED" && release.status !== "CANCELLED" ? (
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
        <section className="card" aria-labelledby="deploy-title">
          <h2 id="deploy-title">Deployments</h2>
          {release.deployments.length === 0 ? (
            <Empty title="Not deployed anywhere yet." />
          ) : (
            <ul className="plain">
              {release.deployments.map((d) => (
                <li key={d.id}>
                  <strong>{d.environment}</strong> {d.ref} · {d.stateLabel} · {formatDateTime(d.updatedAt)}
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
                  <span className="muted">{formatDateTime(h.at)}</span> {h.actor}: {h.action}
                  {h.reason ? <em> — {h.reason}</em> : null}
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
