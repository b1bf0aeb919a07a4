// What the calendar marks as a conflict. These are hints for planning; the server's
// gates remain the authority when a release actually moves.
import { overlaps, type Interval } from "./time";

export interface PlannedRelease {
  id: string;
  key: string;
  status: string;
  windowStart: string | null;
  windowEnd: string | null;
  applications: readonly { key: string }[];
}

export interface Blackout {
  id: string;
  name: string;
  start: string;
  end: string;
  tiers: readonly string[];
  applications: readonly { key: string }[];
}

export interface ChangeWindow {
  id: string;
  number: string;
  plannedStart: string | null;
  plannedEnd: string | null;
}

const CLOSED = new Set(["DEPLOYED", "CANCELLED"]);

function interval(start: string | null, end: string | null): Interval | null {
  return start && end ? { start: new Date(start), end: new Date(end) } : null;
}

/** Releases ship to production, so only blackouts that cover production (or every tier) apply. */
function blackoutApplies(blackout: Blackout, release: PlannedRelease): boolean {
  const tierHit = blackout.tiers.length === 0 || blackout.tiers.includes("PRODUCTION");
  const apps = blackout.applications.map((a) => a.key);
  const appHit = apps.length === 0 || release.applications.some((a) => apps.includes(a.key));
  return tierHit && appHit;
}

/**
 * Reasons per release id: an open release whose window falls in a blackout, or
 * overlaps another open release of the same application.
 */
export function findConflicts(
  releases: readonly PlannedRelease[],
  blackouts: readonly Blackout[],
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (id: string, reason: string) => out.set(id, [...(out.get(id) ?? []), reason]);
  const open = releases.filter((r) => !CLOSED.has(r.status));
  for (const release of open) {
    const window = interval(release.windowStart, release.windowEnd);
    if (!window) continue;
    for (const blackout of blackouts) {
      const span = { start: new Date(blackout.start), end: new Date(blackout.end) };
      if (overlaps(window, span) && blackoutApplies(blackout, release)) {
        add(release.id, `in blackout "${blackout.name}"`);
      }
    }
    for (const other of open) {
      if (other.id === release.id) continue;
      const otherWindow = interval(other.windowStart, other.windowEnd);
      const shared = release.applications.some((a) => other.applications.some((b) => b.key === a.key));
      if (otherWindow && shared && overlaps(window, otherWindow)) {
        add(release.id, `overlaps ${other.key} on the same application`);
      }
    }
  }
  return out;
}

/** A change whose planned window leaves the release window would deploy outside it. */
export function changeOutsideRelease(change: ChangeWindow, release: PlannedRelease): boolean {
  const c = interval(change.plannedStart, change.plannedEnd);
  const r = interval(release.windowStart, release.windowEnd);
  if (!c || !r) return false;
  return c.start < r.start || c.end > r.end;
}
