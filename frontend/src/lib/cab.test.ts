import { describe, expect, it } from "vitest";
import { boardWeek, groupPending, nextIndex, weekLabel } from "./cab";

const change = (id: string, state: string, plannedStart: string | null, number = id) => ({ id, number, state, plannedStart });

describe("changes awaiting the board", () => {
  it("puts changes awaiting authorization before those in assessment", () => {
    const groups = groupPending([change("a", "ASSESS", "2026-11-16T05:00:00Z"), change("b", "AUTHORIZE", "2026-11-20T05:00:00Z")]);
    expect(groups.map((g) => [g.title, g.changes.map((c) => c.id)])).toEqual([
      ["Awaiting authorization", ["b"]],
      ["In assessment", ["a"]],
    ]);
  });

  it("orders each group by planned start, unscheduled last, then by number", () => {
    const [group] = groupPending([
      change("late", "AUTHORIZE", "2026-11-26T06:00:00Z"),
      change("none", "AUTHORIZE", null),
      change("early-b", "AUTHORIZE", "2026-11-16T05:00:00+00:00", "CRQ2"),
      change("early-a", "AUTHORIZE", "2026-11-16T05:00:00Z", "CHG1"),
    ]);
    expect(group.changes.map((c) => c.id)).toEqual(["early-a", "early-b", "late", "none"]);
  });

  it("lists a change the server returned twice only once", () => {
    const [group] = groupPending([change("a", "ASSESS", null), change("a", "ASSESS", null)]);
    expect(group.changes).toHaveLength(1);
  });

  it("leaves out empty groups and states the board does not decide", () => {
    expect(groupPending([change("a", "SCHEDULED", null)])).toEqual([]);
  });
});

describe("this week", () => {
  it("runs from Monday to the next Monday in UTC, whatever the weekday", () => {
    const week = boardWeek(new Date("2026-11-22T23:59:00Z")); // a Sunday
    expect(week.from.toISOString()).toBe("2026-11-16T00:00:00.000Z");
    expect(week.to.toISOString()).toBe("2026-11-23T00:00:00.000Z");
  });

  it("names its Monday and its Sunday", () => {
    expect(weekLabel(boardWeek(new Date("2026-12-30T12:00:00Z")))).toBe("28 Dec – 3 Jan 2027");
  });
});

describe("moving through the list with keys", () => {
  it.each([
    [0, "ArrowDown", 3, 1],
    [2, "ArrowDown", 3, 2],
    [0, "ArrowUp", 3, 0],
    [2, "Home", 3, 0],
    [0, "End", 3, 2],
  ])("from %i, %s in %i items goes to %i", (current, key, length, expected) => {
    expect(nextIndex(current, key, length)).toBe(expected);
  });

  it("ignores other keys and empty lists", () => {
    expect(nextIndex(0, "Enter", 3)).toBeNull();
    expect(nextIndex(0, "ArrowDown", 0)).toBeNull();
  });
});
