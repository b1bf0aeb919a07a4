import { describe, expect, it } from "vitest";
import { drift } from "./drift";
import { codeRangeProblem, containersFor, linkOptions } from "./links";
import { changeOverdue, exportHref, paginate, releaseOverdue, sortByWindow } from "./lists";
import { underOverride } from "./releases";
import { planningRefusal } from "./roles";
import { formatDateTime, fromInputValue, toInputValue } from "./time";

const now = new Date("2026-12-02T12:00:00Z");

describe("time awareness", () => {
  it("marks a release overdue when its window ended and it is not deployed", () => {
    expect(releaseOverdue({ status: "READY", windowEnd: "2026-12-01T00:00:00Z" }, now)).toBe(true);
    expect(releaseOverdue({ status: "DEPLOYED", windowEnd: "2026-12-01T00:00:00Z" }, now)).toBe(false);
    expect(releaseOverdue({ status: "PLANNED", windowEnd: "2026-12-03T00:00:00Z" }, now)).toBe(false);
    expect(releaseOverdue({ status: "PLANNED", windowEnd: null }, now)).toBe(false);
  });

  it("marks a change overdue when its window ended and it is still open", () => {
    expect(changeOverdue({ state: "SCHEDULED", plannedEnd: "2026-12-01T00:00:00Z" }, now)).toBe(true);
    expect(changeOverdue({ state: "CLOSED", plannedEnd: "2026-12-01T00:00:00Z" }, now)).toBe(false);
  });

  it("lists what is upcoming first, then the unscheduled, then the past newest first", () => {
    const items = [
      { key: "OLD", start: "2026-10-01T00:00:00Z", end: "2026-10-02T00:00:00Z" },
      { key: "NEXT", start: "2026-12-10T00:00:00Z", end: "2026-12-11T00:00:00Z" },
      { key: "NOW", start: "2026-12-01T00:00:00Z", end: "2026-12-05T00:00:00Z" },
      { key: "NONE", start: null, end: null },
      { key: "RECENT", start: "2026-11-20T00:00:00Z", end: "2026-11-21T00:00:00Z" },
    ];
    expect(sortByWindow(items, "upcoming", now, (i) => i).map((i) => i.key)).toEqual(["NOW", "NEXT", "NONE", "RECENT", "OLD"]);
    expect(sortByWindow(items, "start-desc", now, (i) => i).map((i) => i.key)[0]).toBe("NEXT");
    expect(sortByWindow(items, "key", now, (i) => i).map((i) => i.key)[0]).toBe("NEXT");
  });

  it("pages a list, clamping a page past the end", () => {
    const items = Array.from({ length: 53 }, (_, i) => i);
    expect(paginate(items, 3, 25)).toMatchObject({ items: [50, 51, 52], page: 3, pages: 3, from: 51, to: 53, total: 53 });
    expect(paginate(items, 9, 25).page).toBe(3);
    expect(paginate([], 1, 25)).toMatchObject({ pages: 1, from: 0, to: 0 });
  });
});

describe("the reader's time zone", () => {
  it("shows an instant in the chosen zone and reads an input back as the same instant", () => {
    expect(formatDateTime("2026-11-16T05:00:00Z", "Europe/Berlin")).toBe("2026-11-16 06:00 CET");
    expect(toInputValue("2026-11-16T05:00:00Z", "America/New_York")).toBe("2026-11-16T00:00");
    expect(fromInputValue("2026-11-16T00:00", "America/New_York")).toBe("2026-11-16T05:00:00.000Z");
    // Across a daylight-saving change the offset of that day is used.
    expect(fromInputValue("2026-07-01T12:00", "Europe/Berlin")).toBe("2026-07-01T10:00:00.000Z");
    expect(fromInputValue("", "UTC")).toBeNull();
  });
});

describe("drift across environments", () => {
  const env = (name: string, tier: string, refs: Record<string, string>) => ({
    id: name,
    name,
    tier,
    deployedVersions: Object.entries(refs).map(([application, ref]) => ({
      application,
      deployment: { repository: `acme/${application}`, ref, sha: `sha-${ref}`, updatedAt: "2026-11-01T00:00:00Z", url: "u" },
    })),
  });

  it("orders tiers and marks the applications whose tiers run different versions", () => {
    const result = drift([
      env("Production", "PRODUCTION", { Payments: "v1.2", Checkout: "v3.0" }),
      env("Development", "DEV", { Payments: "v1.3", Checkout: "v3.0" }),
      env("Staging", "STAGING", { Payments: "v1.3", Checkout: "v3.0" }),
    ]);
    expect(result.environments.map((e) => e.name)).toEqual(["Development", "Staging", "Production"]);
    const payments = result.rows.find((r) => r.application === "Payments")!;
    expect(payments.differs).toBe(true);
    expect(payments.cells.map((c) => c?.ref)).toEqual(["v1.3", "v1.3", "v1.2"]);
    expect(payments.behind).toEqual([true, true, false]);
    expect(result.rows.find((r) => r.application === "Checkout")!.differs).toBe(false);
  });

  it("counts an application missing from a tier as drift", () => {
    const result = drift([env("Staging", "STAGING", { Search: "v2" }), env("Production", "PRODUCTION", {})]);
    expect(result.rows[0]).toMatchObject({ differs: true, behind: [false, true] });
  });
});

describe("link pickers", () => {
  const sources = [
    { name: "tracker", kind: "tracker", product: "Tracker", capabilities: ["WORK_ITEMS", "WEBHOOKS"] },
    { name: "code-host", kind: "code-host", product: "Code Host", capabilities: ["WORK_ITEMS", "CODE_CHANGES", "DEPLOYMENTS"] },
    { name: "change-desk", kind: "change-desk", product: "Change Desk", capabilities: ["CHANGE_REQUESTS"] },
  ];

  it("offers versions of a tracker, milestones and ranges of a code host, changes of an ITSM", () => {
    expect(linkOptions(sources).map((o) => o.label)).toEqual([
      "Version in Tracker",
      "Milestone in Code Host",
      "Code range in Code Host",
      "Change request in Change Desk",
    ]);
  });

  it("searches the release's applications' projects or repositories", () => {
    const [version, milestone] = linkOptions(sources);
    const apps = [{ projects: ["PAY"], repositories: ["acme/pay"] }, { projects: ["PAY", "CHK"], repositories: [] }];
    expect(containersFor(version, apps)).toEqual(["PAY", "CHK"]);
    expect(containersFor(milestone, apps)).toEqual(["acme/pay"]);
  });

  it("checks a hand-written code range before it is sent", () => {
    expect(codeRangeProblem("acme/pay@v1.0...v1.1")).toBeNull();
    expect(codeRangeProblem("acme/pay v1..v2")).toMatch(/owner\/repo@base\.\.\.head/);
  });
});

describe("roles and overrides", () => {
  it("lets release managers and admins plan, and tells a viewer why not", () => {
    expect(planningRefusal("RELEASE_MANAGER", false)).toBeNull();
    expect(planningRefusal("ADMIN", false)).toBeNull();
    expect(planningRefusal("VIEWER", false)).toMatch(/viewer/);
    expect(planningRefusal(null, true)).toBeNull();
  });

  it("keeps the override mark on a release deployed under an override", () => {
    const history = [{ action: "release.transition" }, { action: "gate.override" }];
    expect(underOverride("DEPLOYED", history)).toBe(true);
    expect(underOverride("READY", history)).toBe(false);
    expect(underOverride("DEPLOYING", [{ action: "release.transition" }])).toBe(false);
  });
});

describe("CSV exports of the list pages", () => {
  it("carries the page's filters and leaves out the ones not set", () => {
    expect(exportHref("releases", { status: "PLANNED", type: null, application: "CHK" })).toBe("/export/releases.csv?status=PLANNED&application=CHK");
    expect(exportHref("change-requests", {})).toBe("/export/change-requests.csv");
  });

  it("encodes what it carries", () => {
    expect(exportHref("conflicts", { from: "2027-02-01T00:00:00.000Z", to: "2027-03-01T00:00:00.000Z" })).toBe(
      "/export/conflicts.csv?from=2027-02-01T00%3A00%3A00.000Z&to=2027-03-01T00%3A00%3A00.000Z",
    );
  });
});
