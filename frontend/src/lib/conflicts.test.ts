import { describe, expect, it } from "vitest";
import { buildRows, changeTone, countConflicts, type CalendarRelease } from "./calendar";
import { conflictKindWord, conflictsInvolving, reasonsByRecord, recordLink, releaseConflictRange, type Blackout } from "./conflicts";
import { availableMoves, readinessSummary } from "./releases";

const release = (id: string, app: string, start: string, end: string, status = "PLANNED"): CalendarRelease => ({
  id,
  key: `${app}-${id}`,
  name: `${app} ${id}`,
  type: "PROJECT",
  status,
  windowStart: start,
  windowEnd: end,
  applications: [{ key: app, name: app }],
  links: [],
});
const freeze: Blackout = {
  id: "b1",
  name: "Holiday freeze",
  start: "2026-12-18T00:00:00Z",
  end: "2027-01-04T00:00:00Z",
  tiers: ["PRODUCTION"],
  applications: [],
};

const inFreeze = {
  kind: "RELEASE_IN_BLACKOUT",
  severity: "BLOCKING",
  start: "2026-12-20T05:00:00Z",
  end: "2026-12-20T09:00:00Z",
  reason: 'Release PAY-1 is planned inside the blackout "Holiday freeze".',
  records: [
    { type: "Release", id: "1", label: "PAY-1" },
    { type: "BlackoutWindow", id: "b1", label: "Holiday freeze" },
  ],
};

describe("the server's conflicts on the calendar", () => {
  it("gives each record involved every reason it is part of, once", () => {
    const overlap = { ...inFreeze, kind: "RELEASE_OVERLAP", reason: "Releases PAY-1 and PAY-2 both change PAY.",
      records: [{ type: "Release", id: "1", label: "PAY-1" }, { type: "Release", id: "2", label: "PAY-2" }] };
    const reasons = reasonsByRecord([inFreeze, overlap, inFreeze]);
    expect(reasons.get("1")).toEqual([inFreeze.reason, overlap.reason]);
    expect(reasons.get("2")).toEqual([overlap.reason]);
    expect(reasons.get("b1")).toEqual([inFreeze.reason]);
  });

  it("links a release to its page and a change to its release, else to its ITSM", () => {
    const releases = new Map([["CHG1", "PAY-1"]]);
    expect(recordLink({ type: "Release", id: "1", label: "PAY 1" }, releases)).toEqual({ href: "/releases/PAY%201", external: false });
    expect(recordLink({ type: "ChangeRequest", id: "c1", label: "CHG1" }, releases)).toEqual({ href: "/releases/PAY-1", external: false });
    const lone = { type: "ChangeRequest", id: "c2", label: "CHG2", changeRequest: { url: "https://itsm.example/CHG2" } };
    expect(recordLink(lone, releases)).toEqual({ href: "https://itsm.example/CHG2", external: true });
    expect(recordLink({ ...lone, changeRequest: null }, releases)).toBeNull();
    expect(recordLink({ type: "EnvironmentBooking", id: "k", label: "booking #3" }, releases)?.href).toBe("/environments");
  });

  it("names every kind of conflict in words, never its code", () => {
    for (const kind of ["RELEASE_OVERLAP", "RELEASE_IN_BLACKOUT", "CHANGE_IN_BLACKOUT", "CHANGE_NOT_APPROVED",
      "BOOKING_OVERLAP", "NO_PRODUCTION_BOOKING", "CONFIGURATION_ITEM_OVERLAP", "RELEASE_OUTSIDE_CHANGE_WINDOW", "SOMETHING_NEW"]) {
      expect(conflictKindWord(kind)).not.toMatch(/_|^[A-Z]+$/);
    }
  });
});

describe("calendar rows", () => {
  const r = { ...release("1", "PAY", "2026-12-20T05:00:00Z", "2026-12-20T09:00:00Z"), links: [{ kind: "CHANGE_REQUEST", externalKey: "CHG1" }] };
  const change = {
    id: "c1",
    number: "CHG1",
    title: "Deploy",
    state: "NEW",
    stateLabel: "New",
    approval: "REQUESTED",
    plannedStart: "2026-12-20T05:00:00Z",
    plannedEnd: "2026-12-20T09:00:00Z",
    source: { name: "change-desk" },
  };

  it("puts blackouts first and a release's change in its application's row", () => {
    const rows = buildRows([r], [freeze], [change], { application: null, tier: null }, reasonsByRecord([inFreeze]));
    expect(rows.map((row) => row.label)).toEqual(["Blackout windows", "PAY"]);
    expect(rows[1].items.map((i) => i.kind)).toEqual(["release", "change"]);
    expect(rows[1].items[0].conflicts).toEqual([inFreeze.reason]);
    expect(countConflicts(rows)).toBe(1);
  });

  it("styles a change window by its state first, then its approval", () => {
    expect(changeTone("CANCELED", "APPROVED")).toBe("canceled");
    expect(changeTone("ASSESS", "REJECTED")).toBe("rejected");
    expect(changeTone("REJECTED", "REQUESTED")).toBe("rejected");
    expect(changeTone("SCHEDULED", "APPROVED")).toBe("approved");
    const rows = buildRows([r], [], [{ ...change, state: "CANCELED" }], { application: null, tier: null });
    expect(rows[0].items.find((i) => i.kind === "change")?.tone).toBe("canceled");
  });

  it("says a bar's window and its UTC times in its hover text, in words", () => {
    const rows = buildRows([r], [], [change], { application: null, tier: null });
    const bar = rows[0].items.find((i) => i.kind === "change")!;
    expect(bar.title).toContain("Awaiting approval");
    expect(bar.title).toContain("UTC: 2026-12-20 05:00 UTC");
    expect(bar.title).not.toContain("REQUESTED");
  });

  it("filters blackouts by tier and releases by application", () => {
    const rows = buildRows([r], [freeze], [change], { application: "CHK", tier: "STAGING" });
    expect(rows).toEqual([]);
  });
});

describe("release moves", () => {
  const gates = [
    { name: "change_approved", passed: false, reason: "CHG1 is NEW, approval REQUESTED" },
    { name: "blackout", passed: true, reason: "no blackout" },
  ];

  // As the server answers `availableTransitions` for a READY and a DEPLOYED release.
  const fromReady = [
    { to: "PLANNED", allowed: false, reason: "cannot move", gated: false },
    { to: "IN_PROGRESS", allowed: true, reason: null, gated: false },
    { to: "READY", allowed: false, reason: "the release is already READY", gated: false },
    { to: "DEPLOYING", allowed: true, reason: null, gated: true },
    { to: "DEPLOYED", allowed: false, reason: "cannot move", gated: false },
    { to: "CANCELLED", allowed: true, reason: null, gated: false },
  ];
  const fromDeployed = fromReady.map((t) => ({ ...t, allowed: false, reason: "final" }));

  it("offers only the moves the server allows", () => {
    expect(availableMoves(fromReady, gates).map((m) => m.to)).toEqual(["IN_PROGRESS", "DEPLOYING", "CANCELLED"]);
  });

  it("holds back a gated move with the failing gates' reasons", () => {
    const moves = availableMoves(fromReady, gates);
    expect(moves.find((m) => m.to === "DEPLOYING")?.blockedBy).toEqual(["CHG1 is NEW, approval REQUESTED"]);
    expect(moves.find((m) => m.to === "CANCELLED")?.blockedBy).toEqual([]);
  });

  it("offers nothing once a release is deployed", () => {
    expect(availableMoves(fromDeployed, gates)).toEqual([]);
  });

  it("calls readiness partial when a source was missing", () => {
    expect(readinessSummary({ total: 8, done: 2, ratio: 0.25, complete: false })).toEqual({ percent: 25, text: "2 of 8 done (partial)" });
    // Nothing linked is not "100 % done".
    expect(readinessSummary({ total: 0, done: 0, ratio: 1, complete: true })).toEqual({ percent: null, text: "No work linked" });
  });
});

describe("a release's own conflicts", () => {
  it("asks about its window and every booking's, one minute past the last end", () => {
    const range = releaseConflictRange({ start: "2027-02-09T06:00:00Z", end: "2027-02-09T10:00:00Z" }, [
      { start: "2027-02-02T08:00:00Z", end: "2027-02-02T16:00:00Z" },
      { start: null, end: null },
    ]);
    expect(range).toEqual({ from: "2027-02-02T08:00:00.000Z", to: "2027-02-09T10:01:00.000Z" });
  });

  it("asks nothing of a release with no window and no booking", () => {
    expect(releaseConflictRange({ start: null, end: null }, [])).toBeNull();
  });

  it("keeps the conflicts that name the release, its bookings or its changes", () => {
    const other = { ...inFreeze, records: [{ type: "Release", id: "9", label: "CHK-9" }] };
    const booking = { ...inFreeze, kind: "BOOKING_OVERLAP", records: [{ type: "EnvironmentBooking", id: "bk7", label: "booking #7" }] };
    expect(conflictsInvolving([inFreeze, other, booking], new Set(["1", "bk7"]))).toEqual([inFreeze, booking]);
  });
});

describe("bookings on the calendar", () => {
  const staging = { id: "e2", name: "Staging", tier: "STAGING" };
  const booked = (id: string, status: string, releaseKey: string | null, team = "") => ({
    id,
    start: "2027-02-02T08:00:00Z",
    end: "2027-02-02T16:00:00Z",
    status,
    purpose: "Acceptance test",
    team,
    environment: staging,
    release: releaseKey ? { id: "r1", key: releaseKey } : null,
  });
  const chk = { ...release("r1", "CHK", "2027-02-09T06:00:00Z", "2027-02-09T10:00:00Z"), key: "CHK-1" };

  it("draws each booking on its environment's row, styled by its status, after the applications", () => {
    const rows = buildRows([chk], [], [], { application: null, tier: null }, new Map([["b2", ["Bookings overlap"]]]), [
      booked("b1", "APPROVED", "CHK-1"),
      booked("b2", "REQUESTED", null, "Performance"),
    ]);
    expect(rows.map((r) => r.label)).toEqual(["CHK", "Staging bookings"]);
    const [ours, theirs] = rows[1].items;
    expect(ours).toMatchObject({ kind: "booking", tone: "approved", label: "Staging: CHK-1", href: "/releases/CHK-1" });
    expect(theirs).toMatchObject({ tone: "requested", label: "Staging: Performance", conflicts: ["Bookings overlap"] });
    expect(theirs.title).toContain("Requested");
  });

  it("keeps an application's and a tier's bookings under those filters", () => {
    const bookings = [booked("b1", "APPROVED", "CHK-1"), booked("b2", "REQUESTED", null, "Performance")];
    const byApp = buildRows([chk], [], [], { application: "CHK", tier: null }, new Map(), bookings);
    expect(byApp.flatMap((r) => r.items.map((i) => i.id))).toEqual(["r1", "b1"]);
    const byTier = buildRows([chk], [], [], { application: null, tier: "PRODUCTION" }, new Map(), bookings);
    expect(byTier.flatMap((r) => r.items.map((i) => i.kind))).toEqual(["release"]);
  });
});
