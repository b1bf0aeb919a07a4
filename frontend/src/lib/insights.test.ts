import { describe, expect, it } from "vitest";
import { bandWord, dayAfter, duration, figureText, partialDays, recordsBehind, type Figure, type InsightsData, type Keys } from "./insights";

const figure = (value: number | null, records: string[], work: string[] = []): Figure => ({ value, band: value == null ? null : "HIGH", sampleSize: work.length || records.length, records, work });

const keys: Keys = {
  application: "PAY",
  periodStart: "2026-10-01T00:00:00+00:00",
  periodEnd: "2026-11-01T00:00:00+00:00",
  deploymentFrequency: figure(0.5, ["d1", "d2"]),
  leadTime: figure(30, ["d2"], ["w1"]),
  changeFailureRate: figure(0.5, ["d1", "d2"]),
  timeToRestore: figure(3, ["d1"]),
  failures: [{ deployment: "d1", reasons: ["incident INC1", "emergency change CHG9"], incidents: ["INC1"], restoredAt: null }],
};

const deployment = (id: string, change: string | null) => ({ id, application: "PAY", at: "2026-10-02T00:00:00+00:00", succeeded: true, repository: "acme/pay", ref: "v1", url: `https://x/${id}`, change, work: [] });

const data = {
  applications: [keys],
  overall: keys,
  trend: [],
  deployments: [deployment("d1", "CHG1"), deployment("d2", null), deployment("d3", null)],
  work: [{ id: "w1", application: "PAY", title: "One", url: "https://x/w1", mergedAt: "", firstCommitAt: null, deployment: "d2", leadTimeHours: 30 }, { id: "w2", application: "PAY", title: "Two", url: "https://x/w2", mergedAt: "", firstCommitAt: null, deployment: "d3", leadTimeHours: 1 }],
  changes: [{ number: "CHG1", title: "", url: "", emergency: false, plannedStart: null, plannedEnd: null }, { number: "CHG9", title: "", url: "", emergency: true, plannedStart: null, plannedEnd: null }, { number: "CHG2", title: "", url: "", emergency: false, plannedStart: null, plannedEnd: null }],
  incidents: [{ number: "INC1", application: "PAY", title: "", url: "", openedAt: "", resolvedAt: null, causedBy: ["CHG1"] }, { number: "INC2", application: "PAY", title: "", url: "", openedAt: "", resolvedAt: null, causedBy: [] }],
} as unknown as InsightsData;

describe("records behind a figure", () => {
  it("lists the deployments a frequency counts, and nothing else", () => {
    const behind = recordsBehind(data, keys, "deploymentFrequency");
    expect(behind.deployments.map((d) => d.id)).toEqual(["d1", "d2"]);
    expect(behind.work).toEqual([]);
    expect(behind.incidents).toEqual([]);
  });
  it("lists the work lead time measured and the deployments that shipped it", () => {
    const behind = recordsBehind(data, keys, "leadTime");
    expect(behind.work.map((w) => w.id)).toEqual(["w1"]);
    expect(behind.deployments.map((d) => d.id)).toEqual(["d2"]);
  });
  it("lists a failure's incidents, its change and the emergency change that failed it", () => {
    const behind = recordsBehind(data, keys, "changeFailureRate");
    expect(behind.incidents.map((i) => i.number)).toEqual(["INC1"]);
    expect(behind.changes.map((c) => c.number)).toEqual(["CHG1", "CHG9"]);
  });
});

describe("figures in words", () => {
  it("says values and bands as people do", () => {
    expect(figureText("changeFailureRate", figure(0.25, []))).toBe("25 %");
    expect(figureText("deploymentFrequency", figure(1.5, []))).toBe("1.50 a week");
    expect(figureText("leadTime", figure(null, []))).toBe("No data");
    expect(duration(0.5)).toBe("30 min");
    expect(duration(5)).toBe("5.0 hours");
    expect(duration(72)).toBe("3.0 days");
    expect(bandWord("ELITE")).toBe("Elite");
    expect(bandWord(null)).toBe("Not enough data");
  });
});

describe("the period's end", () => {
  it("is the day after the chosen day, across months and years", () => {
    expect(dayAfter("2026-11-02")).toBe("2026-11-03");
    expect(dayAfter("2026-12-31")).toBe("2027-01-01");
    expect(dayAfter("2028-02-28")).toBe("2028-02-29");
    expect(dayAfter("yesterday")).toBeNull();
  });
});

describe("a trend bucket the period cuts short", () => {
  it("says how many days of the month it covers", () => {
    expect(partialDays("2026-12-01T00:00:00Z", "2026-12-04T08:16:00Z", "MONTH")).toBe(4);
    expect(partialDays("2026-09-05T08:16:00Z", "2026-10-01T00:00:00Z", "MONTH")).toBe(26);
  });

  it("is not partial when it covers its whole month or week", () => {
    expect(partialDays("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", "MONTH")).toBeNull();
    expect(partialDays("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "MONTH")).toBeNull();
    expect(partialDays("2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z", "WEEK")).toBeNull();
  });

  it("reads a month in the reader's zone, daylight-saving hour and all", () => {
    // March in Europe/Berlin: from 23:00 UTC on 28 February, 31 days less an hour.
    expect(partialDays("2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z", "MONTH")).toBeNull();
    // February in Pacific/Kiritimati (UTC+14) starts on 31 January in UTC: 28 days.
    expect(partialDays("2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z", "MONTH")).toBeNull();
    expect(partialDays("2026-01-31T10:00:00Z", "2026-02-27T10:00:00Z", "MONTH")).toBe(27);
  });

  it("counts a part of a day as a day", () => {
    expect(partialDays("2026-12-07T00:00:00Z", "2026-12-07T09:00:00Z", "WEEK")).toBe(1);
  });
});
