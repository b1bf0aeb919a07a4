import { describe, expect, it } from "vitest";
import { approvalWord, changeStateWord, count, describeAudit, embeddedNotes, errorCodeWords, humanize, roleWord, workStatusWord } from "./words";

describe("words for people", () => {
  it("never shows a code: known ones have words, unknown ones are sentence case", () => {
    expect(approvalWord("NOT_REQUESTED")).toBe("Approval not asked yet");
    expect(changeStateWord("ON_HOLD")).toBe("On hold");
    expect(workStatusWord("IN_PROGRESS")).toBe("In progress");
    expect(roleWord("RELEASE_MANAGER")).toBe("Release manager");
    expect(humanize("pull_request")).toBe("Pull request");
    expect(changeStateWord("SOMETHING_NEW")).toBe("Something new");
    expect(errorCodeWords("UPSTREAM_UNAVAILABLE")).toBe("could not be reached");
  });

  it("counts in singular and plural, never 'blocker(s)'", () => {
    expect(count(1, "open blocker")).toBe("1 open blocker");
    expect(count(3, "open blocker")).toBe("3 open blockers");
    expect(count(2, "child release")).toBe("2 child releases");
  });
});

describe("audit events in a sentence", () => {
  it("says which status a release moved from and to", () => {
    const text = describeAudit({ action: "release.transition", before: { status: "PLANNED", version: 3 }, after: { status: "IN_PROGRESS", version: 4 } });
    expect(text).toBe("Moved from Planned to In progress");
  });

  it("names the fields an update changed, from what to what, and leaves out bookkeeping", () => {
    const text = describeAudit({
      action: "release.update",
      entityType: "Release",
      entityKey: "PAY-1",
      before: { name: "Old", window_start: "2026-11-16T05:00:00+00:00", version: 1, updated_at: "x" },
      after: { name: "New", window_start: "2026-11-17T05:00:00+00:00", version: 2, updated_at: "y" },
    });
    expect(text).toBe("Changed release PAY-1: name from Old to New; window start from 2026-11-16 05:00 UTC to 2026-11-17 05:00 UTC");
  });

  it("says an override with the gates that failed", () => {
    const text = describeAudit({ action: "gate.override", before: { failed: ["change_approved"] }, after: { status: "DEPLOYING" } });
    expect(text).toBe("Gates overridden to move to Deploying (failing: change approved)");
  });

  it("says what was linked, without the code of its kind", () => {
    const text = describeAudit({ action: "link.create", after: { kind: "MILESTONE", external_key: "acme/pay#3", source: "code-host" } });
    expect(text).toBe("Linked milestone acme/pay#3 in code-host");
    expect(describeAudit({ action: "blackout.delete", entityType: "BlackoutWindow", entityKey: "Freeze" })).toBe("Deleted blackout window Freeze");
  });

  it("says what each booking and activity moved from and to", () => {
    const booking = { entityType: "EnvironmentBooking", entityKey: "booking #3 of staging" };
    expect(describeAudit({ ...booking, action: "booking.approve", before: { status: "REQUESTED" }, after: { status: "APPROVED" } })).toBe(
      "Approved booking #3 of staging: from requested to approved",
    );
    expect(describeAudit({ ...booking, action: "booking.cancel", before: { status: "APPROVED" }, after: { status: "CANCELLED" } })).toBe(
      "Cancelled booking #3 of staging: from approved to cancelled",
    );
    const activity = { entityType: "DeploymentActivity", entityKey: "Run migrations" };
    expect(describeAudit({ ...activity, action: "activity.start", before: { status: "NOT_STARTED" }, after: { status: "IN_PROGRESS", at: "2027-01-01T00:00:00Z" } })).toBe(
      "Started activity Run migrations: from not started to in progress",
    );
    expect(describeAudit({ ...activity, action: "activity.fail", before: { status: "IN_PROGRESS" }, after: { status: "FAILED" } })).toBe(
      "Marked failed activity Run migrations: from in progress to failed",
    );
    expect(describeAudit({ action: "plan.reorder", before: { order: ["Backup", "Migrate"] }, after: { order: ["Migrate", "Backup"] } })).toBe(
      "Reordered the deployment plan from Backup, Migrate to Migrate, Backup",
    );
    expect(describeAudit({ action: "change.upstream", entityKey: "CHG1", after: { state: "SCHEDULED", approval: "APPROVED" } })).toBe(
      "Change CHG1 moved upstream to scheduled, approved",
    );
  });

  it("never leaves a code in any audit sentence the hub records", () => {
    const actions = [
      "release.create", "release.update", "release.transition", "release.delete", "gate.override", "gate.check", "gate.answer",
      "link.create", "link.delete", "phase.create", "phase.update", "phase.delete", "change.intent", "change.claim", "change.raise",
      "change.refused", "change.upstream", "change.webhook_refused", "booking.request", "booking.approve", "booking.reject",
      "booking.cancel", "booking.override", "plan.create", "plan.delete", "plan.reorder", "activity.add", "activity.update",
      "activity.remove", "activity.start", "activity.complete", "activity.fail", "activity.skip",
    ];
    const before = { status: "NOT_STARTED", failed: ["change_approved", "blockers"], order: ["a"], kind: "CODE_RANGE", duration_minutes: 5 };
    const after = { status: "IN_PROGRESS", state: "ON_HOLD", approval: "NOT_REQUESTED", environment: "staging", decision: "fail", order: ["b"], kind: "PLANNED_VERSION", duration_minutes: 9 };
    for (const action of actions) {
      const text = describeAudit({ action, entityType: "Release", entityKey: "PAY-1", before, after });
      expect(text, action).not.toMatch(/\b[A-Z]{2,}_[A-Z_]+\b|\b[a-z]+_[a-z_]+\b|\b[a-z]+\.[a-z_]+\b|\(s\)/);
    }
  });

  it("steps embedded notes' headings down so the page keeps its one h1", () => {
    expect(embeddedNotes("<h1>CAB summary</h1>\n<h2>Risk</h2><p>h1</p>")).toBe("<h3>CAB summary</h3>\n<h4>Risk</h4><p>h1</p>");
    expect(embeddedNotes("<h6>x</h6>")).toBe("<h6>x</h6>");
  });
});
