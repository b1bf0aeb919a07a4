// Time awareness for list pages: what is overdue, upcoming first, sorting and paging.

const CLOSED_RELEASE = new Set(["DEPLOYED", "CANCELLED"]);
const CLOSED_CHANGE = new Set(["CLOSED", "CANCELED", "REJECTED"]);

/** A release whose window has ended without it being deployed (or cancelled). */
export function releaseOverdue(r: { status: string; windowEnd?: string | null }, now: Date): boolean {
  return !!r.windowEnd && new Date(r.windowEnd) < now && !CLOSED_RELEASE.has(r.status);
}

/** A change whose planned window has ended while it is still open. */
export function changeOverdue(c: { state: string; plannedEnd?: string | null }, now: Date): boolean {
  return !!c.plannedEnd && new Date(c.plannedEnd) < now && !CLOSED_CHANGE.has(c.state);
}

export type SortOrder = "upcoming" | "start-asc" | "start-desc" | "key";

export const SORT_LABELS: Record<SortOrder, string> = {
  upcoming: "Upcoming first",
  "start-asc": "Earliest window first",
  "start-desc": "Latest window first",
  key: "By key",
};

interface Windowed {
  key: string;
  start: string | null | undefined;
  end: string | null | undefined;
}

const time = (iso: string | null | undefined, missing: number) => (iso ? new Date(iso).getTime() : missing);

/**
 * "upcoming": what has not ended yet, soonest first, then what is unscheduled, then
 * the past, most recent first. The other orders are the plain ones.
 */
export function sortByWindow<T>(items: readonly T[], order: SortOrder, now: Date, view: (item: T) => Windowed): T[] {
  const at = now.getTime();
  const rank = (w: Windowed) => (!w.start ? 1 : time(w.end ?? w.start, 0) >= at ? 0 : 2);
  const compare = (a: T, b: T): number => {
    const x = view(a);
    const y = view(b);
    switch (order) {
      case "key":
        return x.key.localeCompare(y.key);
      case "start-asc":
        return time(x.start, Infinity) - time(y.start, Infinity) || x.key.localeCompare(y.key);
      case "start-desc":
        return time(y.start, -Infinity) - time(x.start, -Infinity) || x.key.localeCompare(y.key);
      default: {
        const r = rank(x) - rank(y);
        if (r !== 0) return r;
        if (rank(x) === 2) return time(y.start, 0) - time(x.start, 0) || x.key.localeCompare(y.key);
        return time(x.start, 0) - time(y.start, 0) || x.key.localeCompare(y.key);
      }
    }
  };
  return [...items].sort(compare);
}

export interface Page<T> {
  items: T[];
  page: number;
  pages: number;
  from: number;
  to: number;
  total: number;
}

/** Page `page` (1-based, clamped) of `size` items. */
export function paginate<T>(items: readonly T[], page: number, size: number): Page<T> {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(Math.max(1, Math.floor(page) || 1), pages);
  const start = (current - 1) * size;
  const slice = items.slice(start, start + size);
  return { items: slice, page: current, pages, from: slice.length ? start + 1 : 0, to: start + slice.length, total: items.length };
}

export type ExportList = "releases" | "change-requests" | "work-items" | "bookings" | "conflicts";

/** The CSV export of a list page with the page's own filters (`GET /export/<list>.csv`
 * runs the page's query on the server, so the file holds the rows the list holds). */
export function exportHref(list: ExportList, filters: Record<string, string | null | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
  const text = query.toString();
  return `/export/${list}.csv${text ? `?${text}` : ""}`;
}
