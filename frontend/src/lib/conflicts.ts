// The server's conflicts (`conflicts(from, to, filter)`, one engine over every system)
// turned into what the calendar shows: marks on the bars involved and a list whose
// entries link to each record. Nothing here decides what a conflict is.

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

export interface ConflictRecordLike {
  type: string;
  id: string;
  label: string;
  changeRequest?: { url: string } | null;
}

export interface ConflictLike {
  kind: string;
  severity: string;
  start: string;
  end: string;
  reason: string;
  records: readonly ConflictRecordLike[];
}

/** Reasons per record id, so each bar involved carries every clash it is part of. */
export function reasonsByRecord(conflicts: readonly ConflictLike[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const conflict of conflicts) {
    for (const record of conflict.records) {
      const reasons = out.get(record.id) ?? [];
      if (!reasons.includes(conflict.reason)) reasons.push(conflict.reason);
      out.set(record.id, reasons);
    }
  }
  return out;
}

export interface RecordLink {
  href: string;
  /** Outside the dashboard: the ITSM's own page of a change. */
  external: boolean;
}

/**
 * Where a record of a conflict is looked at: a release on its page; a change on the
 * page of the release it deploys when the calendar knows one, else in its ITSM;
 * blackouts, environments and bookings on the environments page.
 */
export function recordLink(record: ConflictRecordLike, releaseOfChange: ReadonlyMap<string, string>): RecordLink | null {
  switch (record.type) {
    case "Release":
      return { href: `/releases/${encodeURIComponent(record.label)}`, external: false };
    case "ChangeRequest": {
      const release = releaseOfChange.get(record.label);
      if (release) return { href: `/releases/${encodeURIComponent(release)}`, external: false };
      return record.changeRequest ? { href: record.changeRequest.url, external: true } : null;
    }
    case "BlackoutWindow":
    case "Environment":
    case "EnvironmentBooking":
      return { href: "/environments", external: false };
    default:
      return null;
  }
}

const KIND_WORDS: Record<string, string> = {
  RELEASE_OVERLAP: "Releases overlap",
  RELEASE_IN_BLACKOUT: "Release in a blackout",
  CHANGE_IN_BLACKOUT: "Change in a blackout",
  CHANGE_NOT_APPROVED: "Change not approved",
  BOOKING_OVERLAP: "Bookings overlap",
  NO_PRODUCTION_BOOKING: "No production booking",
  CONFIGURATION_ITEM_OVERLAP: "Changes on one configuration item",
  RELEASE_OUTSIDE_CHANGE_WINDOW: "Release outside its change's window",
};

export function conflictKindWord(kind: string): string {
  return KIND_WORDS[kind] ?? kind.charAt(0) + kind.slice(1).toLowerCase().replace(/_/g, " ");
}

export interface Span {
  start: string | null | undefined;
  end: string | null | undefined;
}

/**
 * The period to ask the conflict engine about for one release: its window and the
 * windows of its bookings (staging is often booked days before production). None
 * when nothing of the release has a window.
 */
export function releaseConflictRange(window: Span, bookings: readonly Span[]): { from: string; to: string } | null {
  const spans = [window, ...bookings].filter((s): s is { start: string; end: string } => !!s.start && !!s.end);
  if (spans.length === 0) return null;
  const from = Math.min(...spans.map((s) => new Date(s.start).getTime()));
  const to = Math.max(...spans.map((s) => new Date(s.end).getTime()));
  // The engine answers for [from, to): one more minute keeps an instant at the end in.
  return { from: new Date(from).toISOString(), to: new Date(to + 60_000).toISOString() };
}

/** The conflicts with one of `ids` (a release, its bookings, its changes) among their records. */
export function conflictsInvolving<C extends ConflictLike>(conflicts: readonly C[], ids: ReadonlySet<string>): C[] {
  return conflicts.filter((c) => c.records.some((r) => ids.has(r.id)));
}
