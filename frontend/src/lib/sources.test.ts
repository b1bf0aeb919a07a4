import { describe, expect, it } from "vitest";
import { describeProblem, sourceLabel, sourceProblems } from "./sources";

describe("degraded sources", () => {
  it("says which source failed and how old the copy shown is", () => {
    const problems = sourceProblems([
      { message: "servicenow: down", extensions: { code: "UPSTREAM_UNAVAILABLE", source: "servicenow", stale: true, ageSeconds: 185 } },
    ]);
    expect(problems.map(describeProblem)).toEqual(["ServiceNow unavailable, showing data from 3 minutes ago"]);
  });

  it("says the data is missing when no copy was kept", () => {
    const [problem] = sourceProblems([{ message: "x", extensions: { code: "UPSTREAM_TIMEOUT", source: "jira" } }]);
    expect(describeProblem(problem)).toBe("JIRA unavailable, its data is missing here");
  });

  it("reports each source once, preferring the error that carries a stale copy", () => {
    const problems = sourceProblems([
      { message: "a", extensions: { code: "UPSTREAM_UNAVAILABLE", source: "remedy" } },
      { message: "b", extensions: { code: "UPSTREAM_UNAVAILABLE", source: "remedy", stale: true, ageSeconds: 30 } },
      { message: "not an upstream", extensions: { code: "BAD_USER_INPUT" } },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0].stale).toBe(true);
  });

  it("names a rate-limited source as such", () => {
    const [problem] = sourceProblems([{ message: "x", extensions: { code: "UPSTREAM_RATE_LIMITED", source: "github" } }]);
    expect(describeProblem(problem)).toMatch(/^GitHub rate limited/);
  });

  it("keeps an instance's own name and adds the product", () => {
    expect(sourceLabel("snow-emea", "servicenow")).toBe("snow-emea (ServiceNow)");
    expect(sourceLabel("remedy")).toBe("BMC Remedy");
  });
});
