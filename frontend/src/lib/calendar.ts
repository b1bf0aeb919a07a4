// Turns the calendar query's answer into timeline rows: blackouts first, then one
// row per application with its releases and the change windows linked to them.
import type { Blackout, PlannedRelease } from "./conflicts";
import { formatUtc, formatWindow } from "./time";
import { bookingStatusWord } from "./bookings";
import { approvalWord, changeStateWord, releaseStatusWord, tierWord } from "./words";

export interface CalendarRelease extends PlannedRelease {
  name: string;
  type: string;
  applications: readonly { key: string; name: string }[];
  links: readonly { kind: string; externalKey: string }[];
}

export interface CalendarChange {
  id: string;
  number: string;
  title: string;
  state: string;
  stateLabel: string;
  approval: string;
  plannedStart: string | null;
  plannedEnd: string | null;
  source: { name: string };
}

export interface CalendarBooking {
  id: string;
  start: string;
  end: string;
  status: string;
  purpose: string;
  team: string;
  environment: { id: string; name: string; tier: string };
  release: { id: string; key: string } | null;
}

export interface CalendarFilters {
  application: string | null;
  tier: string | null;
}

export interface Bar {
  id: string;
  start: Date;
  end: Date;
  label: string;
  title: string;
  kind: "release" | "change" | "blackout" | "booking";
  tone?: string;
  href?: string;
  conflicts?: string[];
}

export interface Row {
  id: string;
  label: string;
  items: Bar[];
}

const BLACKOUT_ROW = "blackouts";
const UNLINKED_ROW = "unlinked-changes";
const BOOKING_ROW = "bookings-";

export function buildRows(
  releases: readonly CalendarRelease[],
  blackouts: readonly Blackout[],
  changes: readonly CalendarChange[],
  filters: CalendarFilters,
  conflicts: ReadonlyMap<string, readonly string[]> = new Map(),
  bookings: readonly CalendarBooking[] = [],
): Row[] {
  const shownBlackouts = blackouts.filter(
    (b) =>
      (!filters.tier || b.tiers.length === 0 || b.tiers.includes(filters.tier)) &&
      (!filters.application || b.applications.length === 0 || b.applications.some((a) => a.key === filters.application)),
  );
  const shownReleases = releases.filter(
    (r) => !filters.application || r.applications.some((a) => a.key === filters.application),
  );
  const rows = new Map<string, Row>();
  const rowFor = (key: string, label: string) => {
    let row = rows.get(key);
    if (!row) {
      row = { id: key, label, items: [] };
      rows.set(key, row);
    }
    return row;
  };

  if (shownBlackouts.length > 0) {
    const row = rowFor(BLACKOUT_ROW, "Blackout windows");
    for (const b of shownBlackouts) {
      row.items.push({
        id: b.id,
        start: new Date(b.start),
        end: new Date(b.end),
        label: b.name,
        title: `Blackout ${b.name} (${b.tiers.map(tierWord).join(", ") || "every tier"})\n${formatWindow(b.start, b.end)}\nUTC: ${formatUtc(b.start)} → ${formatUtc(b.end)}`,
        kind: "blackout",
      });
    }
  }

  const releaseByChange = new Map<string, CalendarRelease>();
  for (const r of releases) {
    for (const link of r.links) if (link.kind === "CHANGE_REQUEST") releaseByChange.set(link.externalKey, r);
  }

  for (const r of shownReleases) {
    if (!r.windowStart || !r.windowEnd) continue;
    const app = r.applications[0];
    const row = rowFor(app ? `app-${app.key}` : "no-app", app ? app.name : "No application");
    const reasons = [...(conflicts.get(r.id) ?? [])];
    row.items.push({
      id: r.id,
      start: new Date(r.windowStart),
      end: new Date(r.windowEnd),
      label: r.key,
      title: `${r.key} · ${r.name} · ${releaseStatusWord(r.status)}\n${formatWindow(r.windowStart, r.windowEnd)}\nUTC: ${formatUtc(r.windowStart)} → ${formatUtc(r.windowEnd)}`,
      kind: "release",
      tone: r.status.toLowerCase(),
      href: `/releases/${encodeURIComponent(r.key)}`,
      conflicts: reasons,
    });
  }

  for (const c of changes) {
    if (!c.plannedStart || !c.plannedEnd) continue;
    const release = releaseByChange.get(c.number);
    if (filters.application && !release?.applications.some((a) => a.key === filters.application)) continue;
    const app = release?.applications[0];
    const row = app ? rowFor(`app-${app.key}`, app.name) : rowFor(UNLINKED_ROW, "Other change requests");
    row.items.push({
      id: c.id,
      start: new Date(c.plannedStart),
      end: new Date(c.plannedEnd),
      label: c.number,
      title: `${c.number} · ${c.title} · ${changeStateWord(c.state)} · ${approvalWord(c.approval)}\n${formatWindow(c.plannedStart, c.plannedEnd)}\nUTC: ${formatUtc(c.plannedStart)} → ${formatUtc(c.plannedEnd)}`,
      kind: "change",
      tone: changeTone(c.state, c.approval),
      href: release ? `/releases/${encodeURIComponent(release.key)}` : undefined,
      conflicts: [...(conflicts.get(c.id) ?? [])],
    });
  }

  // One row per environment booked, after the applications: who holds it, and when.
  const releaseById = new Map(releases.map((r) => [r.id, r]));
  for (const b of bookings) {
    if (filters.tier && b.environment.tier !== filters.tier) continue;
    const holder = b.release ? releaseById.get(b.release.id) : undefined;
    if (filters.application && !holder?.applications.some((a) => a.key === filters.application)) continue;
    const row = rowFor(`${BOOKING_ROW}${b.environment.id}`, `${b.environment.name} bookings`);
    const who = b.release?.key ?? b.team;
    row.items.push({
      id: b.id,
      start: new Date(b.start),
      end: new Date(b.end),
      label: `${b.environment.name}: ${who}`,
      title: `${b.environment.name} booked for ${who} · ${b.purpose} · ${bookingStatusWord(b.status)}\n${formatWindow(b.start, b.end)}\nUTC: ${formatUtc(b.start)} → ${formatUtc(b.end)}`,
      kind: "booking",
      tone: b.status.toLowerCase(),
      href: b.release ? `/releases/${encodeURIComponent(b.release.key)}` : "/environments",
      conflicts: [...(conflicts.get(b.id) ?? [])],
    });
  }

  const ordered = [...rows.values()];
  const rank = (row: Row) => (row.id === BLACKOUT_ROW ? 0 : row.id === UNLINKED_ROW ? 2 : row.id.startsWith(BOOKING_ROW) ? 3 : 1);
  return ordered.sort((a, b) => rank(a) - rank(b) || a.label.localeCompare(b.label));
}

export function countConflicts(rows: readonly Row[]): number {
  return rows.reduce((n, row) => n + row.items.filter((i) => (i.conflicts?.length ?? 0) > 0).length, 0);
}

/** How a change window looks: a finished refusal (rejected, cancelled) first, then its approval. */
export function changeTone(state: string, approval: string): string {
  if (state === "CANCELED") return "canceled";
  if (state === "REJECTED" || approval === "REJECTED") return "rejected";
  if (state === "CLOSED") return "closed";
  return approval.toLowerCase();
}

/** The release each change number deploys, by the releases' change links. */
export function releaseOfChange(releases: readonly CalendarRelease[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of releases) {
    for (const link of r.links) if (link.kind === "CHANGE_REQUEST") out.set(link.externalKey, r.key);
  }
  return out;
}
