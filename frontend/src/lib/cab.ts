// What the change board sees: changes awaiting its decision, in the order it
// takes them, and the week it is planning for.
import { rangeFor, type Range } from "./time";

export interface PendingChange {
  id: string;
  number: string;
  state: string;
  plannedStart?: string | null;
}

export interface PendingGroup<T extends PendingChange> {
  state: string;
  title: string;
  changes: T[];
}

/** Authorization first: those are one vote away from going ahead. */
const DECISION_ORDER = [
  { state: "AUTHORIZE", title: "Awaiting authorization" },
  { state: "ASSESS", title: "In assessment" },
] as const;

function startsAt(change: PendingChange): number {
  return change.plannedStart ? new Date(change.plannedStart).getTime() : Number.POSITIVE_INFINITY;
}

/**
 * One group per decision state, earliest planned window first, unscheduled last.
 * A change in both answers (one ITSM page overlapping another) is listed once.
 */
export function groupPending<T extends PendingChange>(changes: readonly T[]): PendingGroup<T>[] {
  const unique = new Map<string, T>();
  for (const change of changes) if (!unique.has(change.id)) unique.set(change.id, change);
  const ordered = [...unique.values()].sort(
    (a, b) => startsAt(a) - startsAt(b) || a.number.localeCompare(b.number),
  );
  return DECISION_ORDER.map(({ state, title }) => ({
    state,
    title,
    changes: ordered.filter((c) => c.state === state),
  })).filter((g) => g.changes.length > 0);
}

/** The UTC week (Monday to Monday) that holds `now`, as the calendar draws it. */
export function boardWeek(now: Date): Range {
  return rangeFor("week", now);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "16 Nov – 22 Nov 2026": the last day shown is the Sunday, not the next Monday. */
export function weekLabel(week: Range): string {
  const last = new Date(week.to.getTime() - 86_400_000);
  const day = (d: Date) => `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
  return `${day(week.from)} – ${day(last)} ${last.getUTCFullYear()}`;
}

/** Where focus goes in a list on an arrow, Home or End key; null for other keys. */
export function nextIndex(current: number, key: string, length: number): number | null {
  if (length === 0) return null;
  switch (key) {
    case "ArrowDown":
      return Math.min(current + 1, length - 1);
    case "ArrowUp":
      return Math.max(current - 1, 0);
    case "Home":
      return 0;
    case "End":
      return length - 1;
    default:
      return null;
  }
}
