import { describe, expect, it } from "vitest";
import { describeProblem, raisesChanges, sourceLabel, sourceProblems, workKindLabel } from "./sources";

// Sources as the graph describes them: the product name comes from the connector kind.
const SOURCES = [
  { name: "itsm", kind: "itsm", product: "Acme Changes" },
  { name: "tracker", kind: "tracker", product: "Acme Tracker" },
  { name: "code", kind: "code", product: "Acme Code" },
];

describe("degraded sources", () => {
  it("says which source failed, by its product, and how old the copy shown is", () => {
    const problems = sourceProblems([
      { message: "itsm: down", extensions: { code: "UPSTREAM_UNAVAILABLE", source: "itsm", stale: true, ageSeconds: 185 } },
    ]);
    expect(problems.map((p) => describeProblem(p, SOURCES))).toEqual(["Acme Changes unavailable, showing data from 3 minutes ago"]);
  });

  it("says the data is missing when no copy was kept", () => {
    const [problem] = sourceProblems([{ message: "x", extensions: { code: "UPSTREAM_TIMEOUT", source: "tracker" } }]);
    expect(describeProblem(problem, SOURCES)).toBe("Acme Tracker unavailable, its data is missing here");
  });

  it("names the source by its own name while the sources are not known yet", () => {
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

  it("names a rate-limited source as such", () => {
    const [problem] = sourceProblems([{ message: "x", extensions: { code: "UPSTREAM_RATE_LIMITED", source: "code" } }]);
    expect(describeProblem(problem, SOURCES)).toMatch(/^Acme Code rate limited/);
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
