import { describe, expect, it } from "vitest";
import { approvalWord, changeStateWord, count, describeAudit, errorCodeWords, humanize, roleWord, workStatusWord } from "./words";

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
});
