import { describe, expect, it } from "vitest";
import { assignLanes, formatAge, place, rangeFor, shift, ticks } from "./time";

const d = (iso: string) => new Date(iso);

describe("calendar ranges", () => {
  it("starts a week on Monday in UTC", () => {
    const range = rangeFor("week", d("2026-11-19T23:30:00Z")); // a Thursday
    expect(range.from.toISOString()).toBe("2026-11-16T00:00:00.000Z");
    expect(range.to.toISOString()).toBe("2026-11-23T00:00:00.000Z");
  });

  it("covers the calendar quarter that holds the anchor", () => {
    const range = rangeFor("quarter", d("2026-11-19T00:00:00Z"));
    expect(range.from.toISOString()).toBe("2026-10-01T00:00:00.000Z");
    expect(range.to.toISOString()).toBe("2027-01-01T00:00:00.000Z");
  });

  it("moves a month from the 31st without skipping February", () => {
    expect(shift("month", d("2027-01-31T00:00:00Z"), 1).toISOString().slice(0, 7)).toBe("2027-02");
  });

  it("labels a month by day and a quarter by week", () => {
    const month = rangeFor("month", d("2026-11-05T00:00:00Z"));
    expect(ticks("month", month)).toHaveLength(30);
    expect(ticks("quarter", rangeFor("quarter", d("2026-11-05T00:00:00Z")))[0].label).toBe("1 Oct");
  });
});

describe("placing a window on the timeline", () => {
  const range = { from: d("2026-11-01T00:00:00Z"), to: d("2026-11-11T00:00:00Z") };

  it("gives offset and width as shares of the range", () => {
    expect(place(range, d("2026-11-02T00:00:00Z"), d("2026-11-04T00:00:00Z"))).toEqual({ left: 10, width: 20 });
  });

  it("clips a window that starts before the range", () => {
    expect(place(range, d("2026-10-20T00:00:00Z"), d("2026-11-02T00:00:00Z"))).toEqual({ left: 0, width: 10 });
  });

  it("leaves out a window wholly outside", () => {
    expect(place(range, d("2026-12-01T00:00:00Z"), d("2026-12-02T00:00:00Z"))).toBeNull();
  });
});

describe("lanes", () => {
  it("stacks overlapping windows and reuses a lane once it is free", () => {
    const a = { start: d("2026-11-01T00:00:00Z"), end: d("2026-11-03T00:00:00Z") };
    const b = { start: d("2026-11-02T00:00:00Z"), end: d("2026-11-04T00:00:00Z") };
    const c = { start: d("2026-11-03T00:00:00Z"), end: d("2026-11-05T00:00:00Z") };
    const lanes = assignLanes([c, b, a]).map(({ item, lane }) => [item, lane]);
    expect(lanes).toEqual([
      [a, 0],
      [b, 1],
      [c, 0],
    ]);
  });
});

describe("how old data is", () => {
  it.each([
    [10, "just now"],
    [180, "3 minutes ago"],
    [60, "1 minute ago"],
    [7200, "2 hours ago"],
  ])("%i seconds reads as %s", (seconds, words) => {
    expect(formatAge(seconds)).toBe(words);
  });
});
