import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "urql";
import { Degraded, Empty, PageHeader, Skeleton } from "../components/common";
import { Timeline } from "../components/Timeline";
import { ConflictList } from "../components/Conflicts";
import { exportHref } from "../lib/lists";
import { buildRows, countConflicts, releaseOfChange, type CalendarBooking, type CalendarChange, type CalendarRelease } from "../lib/calendar";
import { reasonsByRecord, type Blackout } from "../lib/conflicts";
import { rangeFor, rangeTitle, shift, ticks, ZOOMS, type Zoom } from "../lib/time";
import { CalendarChangesQuery, CalendarConflictsQuery, CalendarQuery } from "../operations";
import { displayZone } from "../lib/time";
import { tierWord } from "../lib/words";

const TIERS = ["DEV", "TEST", "STAGING", "PRODUCTION"];

function parseAnchor(value: string | null): Date {
  const parsed = value ? new Date(`${value}T00:00:00Z`) : new Date();
  return Number.isNaN(parsed.getTime()) ? new Date() : parsed;
}

export default function CalendarPage() {
  const [params, setParams] = useSearchParams();
  const zoom = (ZOOMS.includes(params.get("zoom") as Zoom) ? params.get("zoom") : "month") as Zoom;
  const anchor = parseAnchor(params.get("at"));
  const application = params.get("app");
  const tier = params.get("tier");
  const range = rangeFor(zoom, anchor);
  const variables = useMemo(() => ({ from: range.from.toISOString(), to: range.to.toISOString() }), [range.from.getTime(), range.to.getTime()]);
  const [{ data, fetching, error }] = useQuery({ query: CalendarQuery, variables });
  const [changesResult] = useQuery({ query: CalendarChangesQuery, variables });
  // One conflict engine, on the server: it sees every system's records at once.
  const conflictVariables = useMemo(
    () => ({ ...variables, filter: application ? { application } : null }),
    [variables, application],
  );
  const [conflictsResult] = useQuery({ query: CalendarConflictsQuery, variables: conflictVariables });
  const serverConflicts = conflictsResult.data?.conflicts;

  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };
  const go = (step: number) => update({ at: shift(zoom, anchor, step).toISOString().slice(0, 10) });

  const releases = useMemo(
    () => (data?.calendar.filter((e) => e.__typename === "Release") ?? []) as unknown as CalendarRelease[],
    [data],
  );
  const rows = useMemo(() => {
    if (!data) return [];
    const blackouts = data.calendar.filter((e) => e.__typename === "BlackoutWindow") as unknown as Blackout[];
    const changes = (changesResult.data?.changeRequests.nodes ?? []) as unknown as CalendarChange[];
    const bookings: CalendarBooking[] = data.calendar.flatMap((e) =>
      e.__typename === "EnvironmentBooking" ? [{ ...e, status: e.bookingStatus, release: e.release ?? null }] : [],
    );
    return buildRows(releases, blackouts, changes, { application, tier }, reasonsByRecord(serverConflicts ?? []), bookings);
  }, [data, releases, changesResult.data, serverConflicts, application, tier]);
  const conflicts = countConflicts(rows);

  return (
    <section aria-labelledby="page-title">
      <PageHeader title="Release calendar">
        <div className="segmented" role="group" aria-label="Zoom">
          {ZOOMS.map((z) => (
            <button key={z} type="button" aria-pressed={z === zoom} onClick={() => update({ zoom: z })}>
              {z[0].toUpperCase() + z.slice(1)}
            </button>
          ))}
        </div>
        <div className="segmented" role="group" aria-label="Move in time">
          <button type="button" onClick={() => go(-1)} aria-label={`Previous ${zoom}`}>
            ‹
          </button>
          <button type="button" onClick={() => update({ at: null })}>
            Today
          </button>
          <button type="button" onClick={() => go(1)} aria-label={`Next ${zoom}`}>
            ›
          </button>
        </div>
        <label className="inline">
          Application
          <select value={application ?? ""} onChange={(e) => update({ app: e.target.value || null })}>
            <option value="">All</option>
            {(data?.applications ?? []).map((a) => (
              <option key={a.id} value={a.key}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Tier
          <select value={tier ?? ""} onChange={(e) => update({ tier: e.target.value || null })}>
            <option value="">All</option>
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {tierWord(t)}
              </option>
            ))}
          </select>
        </label>
      </PageHeader>
      <div className="calendar-caption">
        <h2 id="range-title">{rangeTitle(zoom, range)}</h2>
        <span className="muted zone-note">
          {displayZone() === "UTC" ? "Days and times in UTC" : `Days in UTC; times on hover in ${displayZone().replace(/_/g, " ")} and UTC`}
        </span>
        <span className="legend" aria-label="Legend">
          <span className="tl-key tl-release">Release</span>
          <span className="tl-key tl-change tone-approved">Change approved</span>
          <span className="tl-key tl-change tone-requested">Change awaiting approval</span>
          <span className="tl-key tl-change tone-not_requested">Approval not asked</span>
          <span className="tl-key tl-change tone-rejected">Rejected</span>
          <span className="tl-key tl-change tone-canceled">Cancelled</span>
          <span className="tl-key tl-marker-key">
            <span className="tl-diamond" aria-hidden="true" /> Short window
          </span>
          <span className="tl-key tl-booking tone-approved">Booking approved</span>
          <span className="tl-key tl-booking tone-requested">Booking requested</span>
          <span className="tl-key tl-blackout">Blackout</span>
          <span className="tl-key tl-weekend-key">Weekend</span>
          {conflicts > 0 ? (
            <span className="tl-key tl-conflict" data-testid="conflict-count">
              ⚠ {conflicts} conflict{conflicts === 1 ? "" : "s"}
            </span>
          ) : null}
        </span>
      </div>
      <Degraded error={error} />
      <Degraded error={changesResult.error} />
      <Degraded error={conflictsResult.error} />
      {!data && fetching ? (
        <Skeleton rows={6} label="Loading the calendar" />
      ) : rows.length === 0 ? (
        <Empty title="Nothing planned in this period.">Try another {zoom}, or clear the filters.</Empty>
      ) : (
        <Timeline range={range} ticks={ticks(zoom, range)} rows={rows} now={new Date()} />
      )}
      <ConflictList
        conflicts={serverConflicts}
        loading={conflictsResult.fetching}
        releaseOfChange={releaseOfChange(releases)}
        exportLink={exportHref("conflicts", { from: variables.from, to: variables.to, application })}
      />
    </section>
  );
}
