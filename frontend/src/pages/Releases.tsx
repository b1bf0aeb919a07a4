import { useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { Degraded, Empty, ExportLink, OverdueMark, PageHeader, Pager, ReadinessBar, RoleNote, Skeleton, StatusBadge, Window } from "../components/common";
import { ReleaseForm } from "../components/ReleaseForm";
import { usePlanningRefusal } from "../components/session";
import { exportHref, paginate, releaseOverdue, SORT_LABELS, sortByWindow, type SortOrder } from "../lib/lists";
import { STATUS_LABELS } from "../lib/releases";
import { releaseTypeWord } from "../lib/words";
import { ReleasesQuery } from "../operations";
import type { ReleaseStatus, ReleaseType } from "../gql/graphql";

const TYPES: ReleaseType[] = ["ENTERPRISE", "PROJECT", "EMERGENCY"];
const PAGE_SIZE = 25;

export default function ReleasesPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const refusedByRole = usePlanningRefusal();
  const [creating, setCreating] = useState(false);
  const status = params.get("status") as ReleaseStatus | null;
  const type = params.get("type") as ReleaseType | null;
  const application = params.get("app");
  const text = params.get("q") ?? "";
  const sort = (params.get("sort") as SortOrder | null) ?? "upcoming";
  const pageNumber = Number(params.get("page") ?? "1");
  const variables = useMemo(
    () => ({ filter: { status: status ? [status] : null, type: type ? [type] : null, application: application || null } }),
    [status, type, application],
  );
  const [{ data, fetching, error }] = useQuery({ query: ReleasesQuery, variables });
  const update = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "page") next.delete("page");
    setParams(next, { replace: true });
  };
  const needle = text.trim().toLowerCase();
  const now = new Date();
  const matching = (data?.releases.nodes ?? []).filter(
    (r) => !needle || r.key.toLowerCase().includes(needle) || r.name.toLowerCase().includes(needle),
  );
  const sorted = sortByWindow(matching, sort, now, (r) => ({ key: r.key, start: r.windowStart, end: r.windowEnd }));
  const page = paginate(sorted, pageNumber, PAGE_SIZE);

  return (
    <section>
      <PageHeader title="Releases">
        <button type="button" className="primary" onClick={() => setCreating(true)} disabled={!!refusedByRole || creating} title={refusedByRole ?? undefined}>
          New release
        </button>
      </PageHeader>
      <RoleNote refusal={refusedByRole} />
      {creating ? (
        <ReleaseForm onCancel={() => setCreating(false)} onDone={(key) => navigate(`/releases/${encodeURIComponent(key)}`)} />
      ) : null}
      <div className="filters" role="group" aria-label="Filters">
        <label className="inline">
          Search
          <input type="search" value={text} onChange={(e) => update("q", e.target.value)} placeholder="Key or name" />
        </label>
        <label className="inline">
          Status
          <select value={status ?? ""} onChange={(e) => update("status", e.target.value)}>
            <option value="">All</option>
            {Object.entries(STATUS_LABELS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Type
          <select value={type ?? ""} onChange={(e) => update("type", e.target.value)}>
            <option value="">All</option>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {releaseTypeWord(t)}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Application
          <select value={application ?? ""} onChange={(e) => update("app", e.target.value)}>
            <option value="">All</option>
            {(data?.applications ?? []).map((a) => (
              <option key={a.id} value={a.key}>
                {a.name}
              </option>
            ))}
          </select>
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
          href={exportHref("releases", { status, type, application })}
          what="releases"
          note={needle ? "The file holds every release of these filters; the search box is not applied." : undefined}
        />
      </div>
      <Degraded error={error} />
      {!data && fetching ? (
        <Skeleton rows={8} label="Loading releases" />
      ) : page.items.length === 0 ? (
        <Empty title="No release matches these filters." />
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Release</th>
              <th scope="col">Status</th>
              <th scope="col">Type</th>
              <th scope="col">Window</th>
              <th scope="col">Readiness</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((r) => (
              <tr key={r.id} data-release={r.key}>
                <td>
                  <Link to={`/releases/${encodeURIComponent(r.key)}`}>{r.key}</Link>
                  <div className="muted">{r.name}</div>
                </td>
                <td>
                  <StatusBadge status={r.status} /> {releaseOverdue(r, now) ? <OverdueMark what={r.key} /> : null}
                </td>
                <td>{releaseTypeWord(r.type)}</td>
                <td>
                  <Window start={r.windowStart} end={r.windowEnd} />
                </td>
                <td>
                  <ReadinessBar readiness={r.readiness} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data ? <Pager page={page} what="releases" onPage={(n) => update("page", n === 1 ? "" : String(n))} /> : null}
    </section>
  );
}
