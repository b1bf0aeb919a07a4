import { errorCodeWords, humanize } from "../lib/words";
import { useEffect, useRef } from "react";
import { useQuery } from "urql";
import { Badge, Degraded, Empty, PageHeader, Skeleton } from "../components/common";
import { sourceLabel } from "../lib/sources";
import { formatAge } from "../lib/time";
import { SourcesQuery } from "../operations";

const TONE: Record<string, string> = { UP: "ok", DEGRADED: "warn", DOWN: "bad", UNKNOWN: "" };

function LatencyChart({ sources }: { sources: readonly { name: string; kind: string; latencyMs?: number | null }[] }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let disposed = false;
    let chart: { dispose(): void } | null = null;
    // ECharts is loaded only here, so it never weighs on the first page load.
    import("../lib/charts").then(({ barChart }) => {
      if (disposed || !element.current) return;
      chart = barChart(
        element.current,
        sources.map((s) => sourceLabel(s)),
        sources.map((s) => Math.round(s.latencyMs ?? 0)),
        "Latency of the last call (ms)",
      );
    });
    return () => {
      disposed = true;
      chart?.dispose();
    };
  }, [sources]);
  return <div ref={element} className="chart" role="img" aria-label="Latency per source" />;
}

export default function SourcesPage() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: SourcesQuery });
  useEffect(() => {
    const timer = window.setInterval(() => refetch({ requestPolicy: "network-only" }), 15_000);
    return () => window.clearInterval(timer);
  }, [refetch]);
  const sources = data?.sources ?? [];
  return (
    <section>
      <PageHeader title="Sources" />
      <Degraded error={error} />
      {!data && fetching ? (
        <Skeleton rows={4} label="Loading sources" />
      ) : sources.length === 0 ? (
        <Empty title="No connector is configured." />
      ) : (
        <>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Health</th>
                <th scope="col">Breaker</th>
                <th scope="col">Calls / failures</th>
                <th scope="col">Latency</th>
                <th scope="col">Last success</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {sources.map((s) => (
                <tr key={s.name} data-source={s.name}>
                  <td>
                    <strong>{sourceLabel(s)}</strong> <span className="muted">{s.kind}</span>
                  </td>
                  <td>
                    <Badge tone={TONE[s.status]}>{humanize(s.status)}</Badge>
                  </td>
                  <td>
                    <Badge tone={s.breaker === "CLOSED" ? "ok" : s.breaker === "OPEN" ? "bad" : "warn"}>{s.breaker === "CLOSED" ? "Calls go through" : s.breaker === "OPEN" ? "Paused after failures" : "Trying again"}</Badge>
                  </td>
                  <td>
                    {s.calls} / {s.failures}
                  </td>
                  <td>{s.latencyMs == null ? "—" : `${Math.round(s.latencyMs)} ms`}</td>
                  <td>{s.lastSuccessAt ? formatAge((Date.now() - new Date(s.lastSuccessAt).getTime()) / 1000) : "never"}</td>
                  <td>
                    {s.lastError ? (
                      <>
                        <span title={s.lastError}>{sourceLabel(s)} {errorCodeWords(s.lastErrorCode)}</span>
                        {s.lastErrorAt ? <span className="muted"> ({formatAge((Date.now() - new Date(s.lastErrorAt).getTime()) / 1000)})</span> : null}
                      </>
                    ) : (
                      <span className="muted">none</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <LatencyChart sources={sources} />
        </>
      )}
    </section>
  );
}
