import { describe, expect, it } from "vitest";
import { activityControls, activityStatusWord, waitingOn } from "./plans";

const plan = [
  { id: "a", title: "Freeze merges", status: "DONE", dependsOn: [] },
  { id: "b", title: "Migrate schema", status: "NOT_STARTED", dependsOn: ["a"] },
  { id: "c", title: "Deploy", status: "NOT_STARTED", dependsOn: ["a", "b"] },
  { id: "d", title: "Smoke test", status: "IN_PROGRESS", dependsOn: [] },
];

describe("running a deployment plan", () => {
  it("starts an activity once what it depends on is done or skipped", () => {
    expect(activityControls(plan[1], plan, null).start).toBeNull();
    expect(waitingOn(plan[2], plan)).toEqual(["Migrate schema"]);
    expect(activityControls(plan[2], plan, null).start).toBe("Waits for Migrate schema.");
    const skipped = plan.map((a) => (a.id === "b" ? { ...a, status: "SKIPPED" } : a));
    expect(activityControls(skipped[2], skipped, null).start).toBeNull();
  });

  it("completes or fails only an activity in progress, and skips only one not running", () => {
    const running = activityControls(plan[3], plan, null);
    expect([running.complete, running.fail]).toEqual([null, null]);
    expect(running.skip).toBe("It is in progress.");
    expect(activityControls(plan[1], plan, null).complete).toMatch(/in progress/);
    expect(activityControls({ ...plan[1], status: "FAILED" }, plan, null).start).toBeNull();
  });

  it("gives a role that may not run plans its reason on every control", () => {
    const refusal = "Only release managers and administrators can make changes.";
    expect(Object.values(activityControls(plan[1], plan, refusal))).toEqual([refusal, refusal, refusal, refusal]);
  });

  it("names statuses in words", () => {
    expect(activityStatusWord("NOT_STARTED")).toBe("Not started");
    expect(activityStatusWord("ON_HOLD")).toBe("On hold");
  });
});
