import { describe, expect, it } from "vitest";
import {
  defaultChangeTarget,
  describeProblem,
  openChangesElsewhere,
  raisesChanges,
  sourceLabel,
  sourceProblems,
  workKindLabel,
} from "./sources";

describe("degraded sources", () => {
  // The graph names the product of the failing source's kind in the error's extensions.
  it("says which source failed, by its product, and how old the copy shown is", () => {
    const problems = sourceProblems([
      {
        message: "itsm: down",
        extensions: { code: "UPSTREAM_UNAVAILABLE", source: "itsm", product: "Acme Changes", stale: true, ageSeconds: 185 },
      },
    ]);
    expect(problems.map(describeProblem)).toEqual(["itsm (Acme Changes) unavailable, showing data from 3 minutes ago"]);
  });

  it("says the data is missing when no copy was kept", () => {
    const [problem] = sourceProblems([{ message: "x", extensions: { code: "UPSTREAM_TIMEOUT", source: "tracker", product: "Acme Tracker" } }]);
    expect(describeProblem(problem)).toBe("tracker (Acme Tracker) unavailable, its data is missing here");
  });

  it("names an instance named after its product by the product alone", () => {
    const [problem] = sourceProblems([{ message: "x", extensions: { code: "UPSTREAM_TIMEOUT", source: "acme", product: "Acme" } }]);
    expect(describeProblem(problem)).toBe("Acme unavailable, its data is missing here");
  });

  it("names the source by its own name when the error names no product", () => {
    const [problem] = sourceProblems([{ message: "x", extensions: { code: "UPSTREAM_TIMEOUT", source: "tracker" } }]);
    expect(describeProblem(problem)).toBe("tracker unavailable, its data is missing here");
  });

  it("reports each source once, preferring the error that carries a stale copy", () => {
    const problems = sourceProblems([
      { message: "a", extensions: { code: "UPSTREAM_UNAVAILABLE", source: "itsm" } },
      { message: "b", extensions: { code: "UPSTREAM_UNAVAILABLE", source: "itsm", stale: true, ageSeconds: 30 } },
      { message: "not an upstream", extensions: { code: "BAD_USER_INPUT" } },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0].stale).toBe(true);
  });

  it("tells a broken link from an outage, with what the source said", () => {
    const [problem] = sourceProblems([
      { message: "tracker: no version '20003' (deleted)", extensions: { code: "BAD_LINK_KEY", source: "tracker", key: "20003" } },
    ]);
    expect(describeProblem(problem)).toBe("tracker: a linked record cannot be read, so its data is missing here (no version '20003' (deleted))");
  });

  it("names a rate-limited source as such", () => {
    const [problem] = sourceProblems([{ message: "x", extensions: { code: "UPSTREAM_RATE_LIMITED", source: "code", product: "Acme Code" } }]);
    expect(describeProblem(problem)).toMatch(/^code \(Acme Code\) rate limited/);
  });

  it("keeps an instance's own name and adds the product", () => {
    expect(sourceLabel({ name: "itsm-emea", kind: "itsm", product: "Acme Changes" })).toBe("itsm-emea (Acme Changes)");
    expect(sourceLabel({ name: "itsm", kind: "itsm", product: "Acme Changes" })).toBe("Acme Changes");
    expect(sourceLabel({ name: "itsm" })).toBe("itsm");
  });
});

describe("what a source can do", () => {
  it("offers raising only in sources whose kind declares change requests", () => {
    expect(raisesChanges({ capabilities: ["CHANGE_REQUESTS"] })).toBe(true);
    expect(raisesChanges({ capabilities: ["WORK_ITEMS", "WEBHOOKS"] })).toBe(false);
  });

  it("writes a work item's kind word for people", () => {
    expect(workKindLabel("pull_request")).toBe("Pull request");
    expect(workKindLabel("issue")).toBe("Issue");
    expect(workKindLabel("Story")).toBe("Story");
  });
});

describe("where a new change request goes", () => {
  const itsms = [{ name: "ops-itsm" }, { name: "infra-itsm" }];
  const change = (number: string, source: string, state: string) => ({ number, state, source: { name: source } });

  it("goes by default to the ITSM where the release already has a change in play", () => {
    expect(defaultChangeTarget(itsms, [change("CHG1", "infra-itsm", "ASSESS")])).toBe("infra-itsm");
  });

  it("goes to the first ITSM when every change of the release is finished, or it has none", () => {
    expect(defaultChangeTarget(itsms, [change("CHG1", "infra-itsm", "CLOSED")])).toBe("ops-itsm");
    expect(defaultChangeTarget(itsms, [])).toBe("ops-itsm");
    expect(defaultChangeTarget([], [])).toBe("");
  });

  it("ignores a change in a source that can no longer raise changes", () => {
    expect(defaultChangeTarget(itsms, [change("OLD1", "retired", "NEW")])).toBe("ops-itsm");
  });

  it("names the changes still in play in other ITSMs", () => {
    const changes = [change("CHG1", "infra-itsm", "SCHEDULED"), change("CRQ2", "ops-itsm", "REJECTED"), change("CHG3", "infra-itsm", "CLOSED")];
    expect(openChangesElsewhere(changes, "ops-itsm").map((c) => c.number)).toEqual(["CHG1"]);
    expect(openChangesElsewhere(changes, "infra-itsm")).toEqual([]);
  });
});
