// Insights: DORA's four keys per application with their bands, their trend, and the
// records behind any figure or chart point (deployments, changes shipped, incidents).
import { useEffect, useMemo, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "urql";
import { Badge, Degraded, Empty, PageHeader, Skeleton } from "../components/common";
import {
  bandTone,
  bandWord,
  dayAfter,
  deploymentName,
  duration,
  failureWords,
  figureText,
  InsightsPage as Query,
  type InsightsData,
  type KeyName,
  type Keys,
  KEYS,
  partialDays,
  PERIODS,
  plotted,
  recordsBehind,
  sampleText,
  scopeWord,
  UNITS,
} from "../lib/insights";
import { displayZone, formatDateTime, fromInputValue } from "../lib/time";

interface Drill {
  keys: Keys;
  key: KeyName;
  title: string;
  data: InsightsData;
}

/** The `days` before now, or before the end of the day `until` (YYYY-MM-DD) in the reader's zone. */
function periodOf(days: number, until: string | null): { from: string; to: string } {
  const next = until ? dayAfter(until) : null;
  const end = next ? fromInputValue(`${next}T00:00`) : null;
  const to = end ? new Date(end) : new Date();
  to.setSeconds(0, 0);
  return { from: new Date(to.getTime() - days * 86_400_000).toISOString(), to: to.toISOString() };
}

function bucketLabel(keys: Keys, bucket: string): string {
  const d = new Date(keys.periodStart);
  const opts: Intl.DateTimeFormatOptions =
    bucket === "WEEK" ? { day: "numeric", month: "short", timeZone: displayZone() } : { month: "short", year: "numeric", timeZone: displayZone() };
  const name = new Intl.DateTimeFormat(undefined, opts).format(d);
  const days = partialDays(keys.periodStart, keys.periodEnd, bucket === "WEEK" ? "WEEK" : "MONTH");
  return days === null ? name : `${name} (${days} ${days === 1 ? "day" : "days"})`;
}

function TrendChart({ name, label, keyName, trend, bucket, onPoint }: { name: string; label: string; keyName: KeyName; trend: Keys[]; bucket: string; onPoint: (i: number) => void }) {
  const element = useRef<HTMLDivElement>(null);
  const pointRef = useRef(onPoint);
  pointRef.current = onPoint;
  useEffect(() => {
    let disposed = false;
    let chart: { dispose(): void } | null = null;
    import("../lib/insightCharts").then(({ trendChart }) => {
      if (disposed || !element.current) return;
      chart = trendChart(
        element.current,
        name,
        trend.map((k) => bucketLabel(k, bucket)),
        trend.map((k) => plotted(keyName, k[keyName])),
        UNITS[keyName],
        (i) => pointRef.current(i),
      );
    });
    return () => {
      disposed = true;
      chart?.dispose();
    };
  }, [name, trend, keyName, bucket]);
  return (
    <figure className="card insight-chart">
      <figcaption>{label}</figcaption>
      <div ref={element} className="chart insight-plot" data-chart={name} role="img" aria-label={`${label}, one point per ${bucket === "WEEK" ? "week" : "month"}; choose a point or the list below to see its records`} />
      <ul className="insight-points" aria-label={`${label} by ${bucket === "WEEK" ? "week" : "month"}`}>
        {trend.map((k, i) => (
          <li key={k.periodStart}>
            <button type="button" className="point-button" onClick={() => onPoint(i)}>
              {bucketLabel(k, bucket)}: {figureText(keyName, k[keyName])}
            </button>
          </li>
        ))}
      </ul>
    </figure>
  );
}

function ChangeLink({ number, data }: { number: string | null | undefined; data: InsightsData }) {
  if (!number) return <>—</>;
  const change = data.changes.find((c) => c.number === number);
  return change ? (
    <a href={change.url} target="_blank" rel="noreferrer">
      {number}
    </a>
  ) : (
    <>{number}</>
  );
}

function Records({ drill, onClose }: { drill: Drill; onClose: () => void }) {
  const behind = recordsBehind(drill.data, drill.keys, drill.key);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [drill]);
  return (
    <section className="card drill" aria-labelledby="drill-title" data-testid="drill-down">
      <header className="drill-head">
        <h2 id="drill-title" ref={heading} tabIndex={-1}>
          Records behind {drill.title}
        </h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      <p className="muted">
        {figureText(drill.key, drill.keys[drill.key])}, from {sampleText(drill.key, drill.keys[drill.key])}.
      </p>
      <h3>Production deployments ({behind.deployments.length})</h3>
      {behind.deployments.length === 0 ? (
        <p className="muted">None in this period.</p>
      ) : (
        <table className="table" data-records="deployments">
          <thead>
            <tr>
              <th scope="col">Deployment</th>
              <th scope="col">Application</th>
              <th scope="col">When</th>
              <th scope="col">Change request</th>
              <th scope="col">Failed because</th>
            </tr>
          </thead>
          <tbody>
            {behind.deployments.map((d) => (
              <tr key={d.id} data-record={d.id}>
                <td>
                  <a href={d.url} target="_blank" rel="noreferrer">
                    {deploymentName(d)}
                  </a>{" "}
                  <span className="muted">{d.ref}</span>
                </td>
                <td>{d.application}</td>
                <td>{formatDateTime(d.at)}</td>
                <td>
                  <ChangeLink number={d.change} data={drill.data} />
                </td>
                <td>{failureWords(drill.keys, d.id) || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {drill.key === "leadTime" && (
        <>
          <h3>Changes shipped ({behind.work.length})</h3>
          <table className="table" data-records="work">
            <thead>
              <tr>
                <th scope="col">Pull request</th>
                <th scope="col">First commit</th>
                <th scope="col">Merged</th>
                <th scope="col">Lead time</th>
              </tr>
            </thead>
            <tbody>
              {behind.work.map((w) => (
                <tr key={w.id} data-record={w.id}>
                  <td>
                    <a href={w.url} target="_blank" rel="noreferrer">
                      {w.title}
                    </a>{" "}
                    <span className="muted">{w.id.split(":").slice(1).join(":")}</span>
                  </td>
                  <td>{w.firstCommitAt ? formatDateTime(w.firstCommitAt) : "unknown (measured from the merge)"}</td>
                  <td>{formatDateTime(w.mergedAt)}</td>
                  <td>{w.leadTimeHours == null ? "—" : duration(w.leadTimeHours)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {(drill.key === "changeFailureRate" || drill.key === "timeToRestore") && (
        <>
          <h3>Incidents ({behind.incidents.length})</h3>
          {behind.incidents.length === 0 ? (
            <p className="muted">No incident traced to these deployments.</p>
          ) : (
            <table className="table" data-records="incidents">
              <thead>
                <tr>
                  <th scope="col">Incident</th>
                  <th scope="col">Opened</th>
                  <th scope="col">Resolved</th>
                  <th scope="col">Caused by</th>
                </tr>
              </thead>
              <tbody>
                {behind.incidents.map((i) => (
                  <tr key={i.number} data-record={i.number}>
                    <td>
                      <a href={i.url} target="_blank" rel="noreferrer">
                        {i.number}
                      </a>{" "}
                      {i.title}
                    </td>
                    <td>{formatDateTime(i.openedAt)}</td>
                    <td>{i.resolvedAt ? formatDateTime(i.resolvedAt) : "Not yet"}</td>
                    <td>
                      {i.causedBy.length === 0
                        ? "—"
                        : i.causedBy.map((n, k) => (
                            <span key={n}>
                              {k > 0 && ", "}
                              <ChangeLink number={n} data={drill.data} />
                            </span>
                          ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>Change requests ({behind.changes.length})</h3>
          {behind.changes.length === 0 ? (
            <p className="muted">No change request named.</p>
          ) : (
            <ul data-records="changes">
              {behind.changes.map((c) => (
                <li key={c.number} data-record={c.number}>
                  <a href={c.url} target="_blank" rel="noreferrer">
                    {c.number}
                  </a>{" "}
                  {c.title}
                  {c.emergency ? " (emergency)" : ""}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

function KeysRow({ keys, data, onDrill }: { keys: Keys; data: InsightsData; onDrill: (d: Drill) => void }) {
  const scope = scopeWord(keys);
  return (
    <tr data-application={keys.application ?? "overall"}>
      <th scope="row">{scope}</th>
      {KEYS.map(({ key, label }) => {
        const figure = keys[key];
        return (
          <td key={key} data-key={key}>
            <button type="button" className="figure" onClick={() => onDrill({ keys, key, data, title: `${label}, ${scope}` })}>
              <strong className="figure-value">{figureText(key, figure)}</strong>
              <Badge tone={bandTone(figure.band)}>{bandWord(figure.band)}</Badge>
              <span className="muted figure-sample">from {sampleText(key, figure)}</span>
            </button>
          </td>
        );
      })}
    </tr>
  );
}

export default function InsightsPageView() {
  const [days, setDays] = useState(90);
  const [bucket, setBucket] = useState<"WEEK" | "MONTH">("MONTH");
  const [scope, setScope] = useState("all");
  const [drill, setDrill] = useState<Drill | null>(null);
  const [params, setParams] = useSearchParams();
  const until = params.get("to");
  const period = useMemo(() => periodOf(days, until), [days, until]);
  const zone = displayZone();
  const [{ data, fetching, error }] = useQuery({ query: Query, variables: { ...period, apps: null, bucket, zone } });
  const [{ data: scoped }] = useQuery({ query: Query, variables: { ...period, apps: [scope], bucket, zone }, pause: scope === "all" });
  const insights = data?.insights;
  const trendData = scope === "all" ? insights : scoped?.insights;
  const trend = trendData?.trend ?? [];
  const scopeName = scope === "all" ? "all applications" : scope;

  return (
    <section aria-labelledby="page-title">
      <PageHeader title="Insights">
        <label>
          Period{" "}
          <select value={days} onChange={(e) => { setDays(Number(e.target.value)); setDrill(null); }}>
            {PERIODS.map((p) => (
              <option key={p.days} value={p.days}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Up to{" "}
          <input
            type="date"
            value={until ?? ""}
            onChange={(e) => {
              setParams(e.target.value ? { to: e.target.value } : {}, { replace: true });
              setDrill(null);
            }}
          />
        </label>
        <label>
          Trend by{" "}
          <select value={bucket} onChange={(e) => setBucket(e.target.value as "WEEK" | "MONTH")}>
            <option value="WEEK">Week</option>
            <option value="MONTH">Month</option>
          </select>
        </label>
      </PageHeader>
      <p className="muted">
        DORA's four keys of software delivery: production deployments from the code hosts, failures and restoration from the service desks. Bands follow the Accelerate State of DevOps Report 2023. Choose any figure or chart point to see the records behind it.
      </p>
      <p data-testid="insights-period" data-from={period.from} data-to={period.to} data-zone={zone}>
        Figures for deployments from {formatDateTime(period.from)} to {formatDateTime(period.to)}.
      </p>
      <Degraded error={error} />
      {!insights && fetching ? (
        <Skeleton rows={6} label="Loading the four keys" />
      ) : !insights ? (
        <Empty title="No figures to show." />
      ) : (
        <>
          <table className="table insights-table" aria-label="The four keys per application">
            <thead>
              <tr>
                <th scope="col">Application</th>
                {KEYS.map(({ key, label, better }) => (
                  <th scope="col" key={key}>
                    {label} <span className="muted">({better})</span>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {insights.applications.map((keys) => (
                <KeysRow key={keys.application ?? ""} keys={keys} data={insights} onDrill={setDrill} />
              ))}
              <KeysRow keys={insights.overall} data={insights} onDrill={setDrill} />
            </tbody>
          </table>
          {drill && <Records drill={drill} onClose={() => setDrill(null)} />}
          <div className="page-header">
            <h2>Trend for {scopeName}</h2>
            <label>
              Trend of{" "}
              <select value={scope} onChange={(e) => setScope(e.target.value)}>
                <option value="all">All applications</option>
                {insights.applications.map((k) => (
                  <option key={k.application} value={k.application ?? ""}>
                    {k.application}
                  </option>
                ))}
              </select>
            </label>
          </div>
          {!trendData ? (
            <Skeleton rows={3} label="Loading the trend" />
          ) : (
            <div className="insight-charts">
              {KEYS.map(({ key, label }) => (
                <TrendChart
                  key={key}
                  name={key}
                  label={label}
                  keyName={key}
                  trend={trend}
                  bucket={bucket}
                  onPoint={(i) => {
                    const keys = trend[i];
                    if (keys) setDrill({ keys, key, data: trendData, title: `${label}, ${scopeName}, ${bucketLabel(keys, bucket)}` });
                  }}
                />
              ))}
            </div>
          )}
        </>
      )}
    </section>
  );
}
