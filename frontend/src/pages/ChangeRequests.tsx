import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "urql";
import { ApprovalBadge, Degraded, Empty, PageHeader, Skeleton } from "../components/common";
import { raisesChanges, sourceLabel } from "../lib/sources";
import { formatWindow } from "../lib/time";
import { ChangeRequestsQuery } from "../operations";
import type { ChangeState } from "../gql/graphql";

const STATES: ChangeState[] = ["NEW", "ASSESS", "AUTHORIZE", "SCHEDULED", "IMPLEMENT", "REVIEW", "CLOSED", "CANCELED", "REJECTED", "ON_HOLD"];

/** A date input's day as the instant the filter means: start of that UTC day. */
function dayStart(value: string | null): string | null {
  return value ? `${value}T00:00:00Z` : null;
}

export default function ChangeRequestsPage() {
  const [params, setParams] = useSearchParams();
  const state = params.get("state") as ChangeState | null;
  const source = params.get("source");
  const from = params.get("from");
  const to = params.get("to");
  const variables = useMemo(
    () => ({ filter: { state: state || null, source: source || null, windowFrom: dayStart(from), windowTo: dayStart(to) } }),
    [state, source, from, to],
  );
  const [{ data, fetching, error }] = useQuery({ query: ChangeRequestsQuery, variables });
  const update = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const itsm = (data?.sources ?? []).filter(raisesChanges);
  const nodes = data?.changeRequests.nodes ?? [];

  return (
    <section>
      <PageHeader title="Change requests">
        <label className="inline">
          State
          <select value={state ?? ""} onChange={(e) => update("state", e.target.value)}>
            <option value="">All</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s.replace("_", " ").toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          System
          <select value={source ?? ""} onChange={(e) => update("source", e.target.value)}>
            <option value="">All</option>
            {itsm.map((s) => (
              <option key={s.name} value={s.name}>
                {sourceLabel(s)}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Window from
          <input type="date" value={from ?? ""} onChange={(e) => update("from", e.target.value)} />
        </label>
        <label className="inline">
          to
          <input type="date" value={to ?? ""} onChange={(e) => update("to", e.target.value)} />
        </label>
      </PageHeader>
      <Degraded error={error} />
      {!data && fetching ? (
        <Skeleton rows={8} label="Loading change requests" />
      ) : nodes.length === 0 ? (
        <Empty title="No change request matches these filters." />
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">System</th>
              <th scope="col">State</th>
              <th scope="col">Type / risk</th>
              <th scope="col">Approval</th>
              <th scope="col">Planned window</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((c) => (
              <tr key={c.id} data-change={c.number}>
                <td>
                  <a href={c.url} target="_blank" rel="noreferrer">
                    {c.number}
                  </a>
                  <div className="muted">{c.title}</div>
                </td>
                <td>{sourceLabel(c.source)}</td>
                <td>
                  {c.stateLabel} <span className="muted">({c.state.toLowerCase()})</span>
                </td>
                <td>
                  {c.type.toLowerCase()} / {c.risk?.replace("_", " ").toLowerCase() ?? "—"}
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
      {data ? (
        <p className="muted">
          {nodes.length} of {data.changeRequests.totalCount} change requests
        </p>
      ) : null}
    </section>
  );
}
