import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { Degraded, Empty, PageHeader, ReadinessBar, Skeleton, StatusBadge } from "../components/common";
import { STATUS_LABELS } from "../lib/releases";
import { formatWindow } from "../lib/time";
import { ReleasesQuery } from "../operations";
import type { ReleaseStatus, ReleaseType } from "../gql/graphql";

const TYPES: ReleaseType[] = ["ENTERPRISE", "PROJECT", "EMERGENCY"];

export default function ReleasesPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") as ReleaseStatus | null;
  const type = params.get("type") as ReleaseType | null;
  const application = params.get("app");
  const text = params.get("q") ?? "";
  const variables = useMemo(
    () => ({ filter: { status: status ? [status] : null, type: type ? [type] : null, application: application || null } }),
    [status, type, application],
  );
  const [{ data, fetching, error }] = useQuery({ query: ReleasesQuery, variables });
  const update = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const needle = text.trim().toLowerCase();
  const releases = (data?.releases.nodes ?? []).filter(
    (r) => !needle || r.key.toLowerCase().includes(needle) || r.name.toLowerCase().includes(needle),
  );

  return (
    <section>
      <PageHeader title="Releases">
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
                {t[0] + t.slice(1).toLowerCase()}
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
      </PageHeader>
      <Degraded error={error} />
      {!data && fetching ? (
        <Skeleton rows={8} label="Loading releases" />
      ) : releases.length === 0 ? (
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
            {releases.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link to={`/releases/${encodeURIComponent(r.key)}`}>{r.key}</Link>
                  <div className="muted">{r.name}</div>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{r.type[0] + r.type.slice(1).toLowerCase()}</td>
                <td className="nowrap">{formatWindow(r.windowStart, r.windowEnd)}</td>
                <td>
                  <ReadinessBar readiness={r.readiness} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data ? <p className="muted">{data.releases.totalCount} releases</p> : null}
    </section>
  );
}
