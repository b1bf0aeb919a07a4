// Calendar arithmetic in UTC: release windows are planned in UTC upstream, and a
// calendar that shifted with the viewer's zone would put a window on the wrong day.

export type Zoom = "week" | "month" | "quarter";
export const ZOOMS: readonly Zoom[] = ["week", "month", "quarter"];

export interface Range {
  from: Date;
  to: Date;
}

const DAY = 86_400_000;

function utcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

/** The visible range of a zoom level that contains `anchor`. Weeks start on Monday. */
export function rangeFor(zoom: Zoom, anchor: Date): Range {
  if (zoom === "week") {
    const day = utcDay(anchor);
    const monday = new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY);
    return { from: monday, to: new Date(monday.getTime() + 7 * DAY) };
  }
  const year = anchor.getUTCFullYear();
  const month = zoom === "month" ? anchor.getUTCMonth() : anchor.getUTCMonth() - (anchor.getUTCMonth() % 3);
  const span = zoom === "month" ? 1 : 3;
  return { from: new Date(Date.UTC(year, month, 1)), to: new Date(Date.UTC(year, month + span, 1)) };
}

/** The anchor one page earlier (`step` -1) or later (+1). */
export function shift(zoom: Zoom, anchor: Date, step: number): Date {
  if (zoom === "week") return new Date(anchor.getTime() + step * 7 * DAY);
  const months = zoom === "month" ? step : 3 * step;
  const day = Math.min(anchor.getUTCDate(), 28);
  return new Date(Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth() + months, day));
}

/** Left offset and width of [start, end) inside `range`, in percent, clipped; null if outside. */
export function place(range: Range, start: Date, end: Date): { left: number; width: number } | null {
  const span = range.to.getTime() - range.from.getTime();
  const a = Math.max(start.getTime(), range.from.getTime());
  const b = Math.min(end.getTime(), range.to.getTime());
  if (b <= a) return null;
  const left = ((a - range.from.getTime()) / span) * 100;
  const width = ((b - a) / span) * 100;
  return { left, width: Math.max(width, 0.4) };
}

export interface Tick {
  at: Date;
  label: string;
  left: number;
  /** A Saturday or Sunday (day ticks only). */
  weekend?: boolean;
  /** The tick's share of the range, in percent. */
  width?: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** Column headings: days for a week, days for a month, week starts for a quarter. */
export function ticks(zoom: Zoom, range: Range): Tick[] {
  const span = range.to.getTime() - range.from.getTime();
  const out: Tick[] = [];
  const step = zoom === "quarter" ? 7 * DAY : DAY;
  for (let t = range.from.getTime(); t < range.to.getTime(); t += step) {
    const at = new Date(t);
    const label =
      zoom === "week"
        ? `${WEEKDAYS[at.getUTCDay()]} ${at.getUTCDate()}`
        : zoom === "month"
          ? String(at.getUTCDate())
          : `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]}`;
    const weekend = zoom !== "quarter" && (at.getUTCDay() === 0 || at.getUTCDay() === 6);
    out.push({ at, label, left: ((t - range.from.getTime()) / span) * 100, weekend, width: (Math.min(step, range.to.getTime() - t) / span) * 100 });
  }
  return out;
}

export function rangeTitle(zoom: Zoom, range: Range): string {
  const from = range.from;
  if (zoom === "month") return `${MONTHS[from.getUTCMonth()]} ${from.getUTCFullYear()}`;
  if (zoom === "quarter") return `Q${Math.floor(from.getUTCMonth() / 3) + 1} ${from.getUTCFullYear()}`;
  const last = new Date(range.to.getTime() - DAY);
  return `${from.getUTCDate()} ${MONTHS[from.getUTCMonth()]} – ${last.getUTCDate()} ${MONTHS[last.getUTCMonth()]} ${last.getUTCFullYear()}`;
}

export interface Interval {
  start: Date;
  end: Date;
}

/** Lane index per item so that no two items in one lane overlap (first fit, by start). */
export function assignLanes<T extends Interval>(items: readonly T[]): Array<{ item: T; lane: number }> {
  const sorted = [...items].sort((a, b) => a.start.getTime() - b.start.getTime());
  const laneEnds: number[] = [];
  return sorted.map((item) => {
    let lane = laneEnds.findIndex((end) => end <= item.start.getTime());
    if (lane === -1) {
      lane = laneEnds.length;
      laneEnds.push(0);
    }
    laneEnds[lane] = item.end.getTime();
    return { item, lane };
  });
}

export function overlaps(a: Interval, b: Interval): boolean {
  return a.start.getTime() < b.end.getTime() && b.start.getTime() < a.end.getTime();
}

// The zone people read times in: a setting (see lib/settings.ts), UTC until it is set.
let zone = "UTC";

export function setDisplayZone(next: string): void {
  zone = isZone(next) ? next : "UTC";
}

export function displayZone(): string {
  return zone;
}

export function isZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const pad = (n: number) => String(n).padStart(2, "0");

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
}

/** The wall-clock time in `in_` of an instant. */
export function wallTime(d: Date, in_: string = zone): WallTime {
  if (in_ === "UTC") {
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), weekday: d.getUTCDay() };
  }
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: in_, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", weekday: "short",
  }).formatToParts(d);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "0";
  return {
    year: Number(get("year")), month: Number(get("month")), day: Number(get("day")), hour: Number(get("hour")) % 24, minute: Number(get("minute")),
    weekday: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(get("weekday")),
  };
}

function zoneAbbreviation(d: Date, in_: string): string {
  if (in_ === "UTC") return "UTC";
  const part = new Intl.DateTimeFormat("en-GB", { timeZone: in_, timeZoneName: "short" }).formatToParts(d).find((p) => p.type === "timeZoneName");
  return part?.value ?? in_;
}

/** "2026-11-16 05:00 UTC" in the reader's zone ("2026-11-16 06:00 CET"). */
export function formatDateTime(iso: string | null | undefined, in_: string = zone): string {
  if (!iso) return "—";
  const d = new Date(iso);
  const w = wallTime(d, in_);
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)} ${zoneAbbreviation(d, in_)}`;
}

/** The same instant in UTC, for a tooltip beside a time shown in the reader's zone. */
export function formatUtc(iso: string | null | undefined): string {
  return formatDateTime(iso, "UTC");
}

/** The value a datetime-local input shows for an instant, in `in_`. */
export function toInputValue(iso: string | null | undefined, in_: string = zone): string {
  if (!iso) return "";
  const w = wallTime(new Date(iso), in_);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** The instant a datetime-local input's wall time means in `in_`, as ISO; null when empty. */
export function fromInputValue(value: string, in_: string = zone): string | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(value);
  if (!m) return null;
  const asUtc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  // Two passes settle the zone's offset also next to a daylight-saving change.
  let guess = asUtc;
  for (let i = 0; i < 2; i++) {
    const w = wallTime(new Date(guess), in_);
    const shown = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
    guess += asUtc - shown;
  }
  return new Date(guess).toISOString();
}

export function formatWindow(start: string | null | undefined, end: string | null | undefined): string {
  if (!start || !end) return "unscheduled";
  const a = formatDateTime(start);
  const b = formatDateTime(end);
  return `${a} → ${a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : b}`;
}

/** "just now", "3 minutes ago", "2 hours ago": how old a copy of upstream data is. */
export function formatAge(seconds: number): string {
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} hour${hours === 1 ? "" : "s"} ago`;
  const days = Math.round(hours / 24);
  return `${days} days ago`;
}
