import { describe, expect, it } from "vitest";
import { buildRows, changeTone, countConflicts, type CalendarRelease } from "./calendar";
import { changeOutsideRelease, findConflicts, type Blackout } from "./conflicts";
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

describe("calendar conflicts", () => {
  it("marks an open release inside a production blackout", () => {
    const conflicts = findConflicts([release("1", "PAY", "2026-12-20T05:00:00Z", "2026-12-20T09:00:00Z")], [freeze]);
    expect(conflicts.get("1")).toEqual(['in blackout "Holiday freeze"']);
  });

  it("ignores a blackout for staging only, and one for another application", () => {
    const staging = { ...freeze, tiers: ["STAGING"] };
    const otherApp = { ...freeze, applications: [{ key: "CHK" }] };
    const r = release("1", "PAY", "2026-12-20T05:00:00Z", "2026-12-20T09:00:00Z");
    expect(findConflicts([r], [staging, otherApp]).size).toBe(0);
  });

  it("ignores shipped and cancelled releases", () => {
    const r = release("1", "PAY", "2026-12-20T05:00:00Z", "2026-12-20T09:00:00Z", "DEPLOYED");
    expect(findConflicts([r], [freeze]).size).toBe(0);
  });

  it("marks two open releases of one application with overlapping windows", () => {
    const a = release("1", "PAY", "2026-11-16T05:00:00Z", "2026-11-16T09:00:00Z");
    const b = release("2", "PAY", "2026-11-16T08:00:00Z", "2026-11-16T10:00:00Z");
    const c = release("3", "CHK", "2026-11-16T08:00:00Z", "2026-11-16T10:00:00Z");
    const conflicts = findConflicts([a, b, c], []);
    expect(conflicts.get("1")).toEqual(["overlaps PAY-2 on the same application"]);
    expect(conflicts.has("3")).toBe(false);
  });

  it("flags a change window that leaves its release's window", () => {
    const r = release("1", "PAY", "2026-11-16T05:00:00Z", "2026-11-16T09:00:00Z");
    const change = { id: "c", number: "CHG1", plannedStart: "2026-11-16T04:00:00Z", plannedEnd: "2026-11-16T09:00:00Z" };
    expect(changeOutsideRelease(change, r)).toBe(true);
    expect(changeOutsideRelease({ ...change, plannedStart: "2026-11-16T05:00:00Z" }, r)).toBe(false);
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
    const rows = buildRows([r], [freeze], [change], { application: null, tier: null });
    expect(rows.map((row) => row.label)).toEqual(["Blackout windows", "PAY"]);
    expect(rows[1].items.map((i) => i.kind)).toEqual(["release", "change"]);
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
