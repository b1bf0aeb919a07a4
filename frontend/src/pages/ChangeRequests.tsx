import { useMemo } from "react";
import { ExportLink, OverdueMark, Pager, UpstreamWord, Window } from "../components/common";
import { changeOverdue, exportHref, paginate, SORT_LABELS, sortByWindow, type SortOrder } from "../lib/lists";
import { changeStateWord, changeTypeWord, riskWord } from "../lib/words";
import { useSearchParams } from "react-router";
import { useQuery } from "urql";
import { ApprovalBadge, Degraded, Empty, PageHeader, Skeleton } from "../components/common";
import { raisesChanges, sourceLabel } from "../lib/sources";
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
    if (key !== "page") next.delete("page");
    setParams(next, { replace: true });
  };
  const itsm = (data?.sources ?? []).filter(raisesChanges);
  const sort = (params.get("sort") as SortOrder | null) ?? "upcoming";
  const now = new Date();
  const sorted = sortByWindow(data?.changeRequests.nodes ?? [], sort, now, (c) => ({ key: c.number, start: c.plannedStart, end: c.plannedEnd }));
  const page = paginate(sorted, Number(params.get("page") ?? "1"), 25);
  const nodes = page.items;

  return (
    <section>
      <PageHeader title="Change requests">
        <label className="inline">
          State
          <select value={state ?? ""} onChange={(e) => update("state", e.target.value)}>
            <option value="">All</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {changeStateWord(s)}
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
        <label className="inline">
          Order
          <select value={sort} onChange={(e) => update("sort", e.target.value === "upcoming" ? "" : e.target.value)}>
            {Object.entries(SORT_LABELS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <ExportLink
          href={exportHref("change-requests", { state, source, windowFrom: dayStart(from), windowTo: dayStart(to) })}
          what="change requests"
        />
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
                  {changeStateWord(c.state)}{" "}
                  <UpstreamWord ours={changeStateWord(c.state)} word={c.stateLabel} title="The ITSM's own state word" />{" "}
                  {changeOverdue(c, now) ? <OverdueMark what={c.number} /> : null}
                </td>
                <td>
                  {changeTypeWord(c.type)} / {c.risk ? riskWord(c.risk) : "—"}
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
      {data ? <Pager page={page} what="change requests" onPage={(n) => update("page", n === 1 ? "" : String(n))} /> : null}
      {data && data.changeRequests.totalCount > (data.changeRequests.nodes.length) ? (
        <p className="muted">The first {data.changeRequests.nodes.length} of {data.changeRequests.totalCount} are listed; narrow the filters to see the rest.</p>
      ) : null}
    </section>
  );
}
