// What may be done next to each activity of a deployment plan, so a run is driven
// from the page with controls that say why they are off. The server checks again.

export interface ActivityLike {
  id: string;
  title: string;
  status: string;
  dependsOn: readonly string[];
}

/** null: allowed; else why the control is disabled. */
export interface ActivityControls {
  start: string | null;
  complete: string | null;
  fail: string | null;
  skip: string | null;
}

const FINISHED = new Set(["DONE", "SKIPPED"]);

/** The titles of the activities that must be done or skipped before `activity` starts. */
export function waitingOn(activity: ActivityLike, all: readonly ActivityLike[]): string[] {
  const byId = new Map(all.map((a) => [a.id, a]));
  return activity.dependsOn
    .map((id) => byId.get(id))
    .filter((a): a is ActivityLike => !!a && !FINISHED.has(a.status))
    .map((a) => a.title);
}

export function activityControls(activity: ActivityLike, all: readonly ActivityLike[], refusal: string | null): ActivityControls {
  const waiting = waitingOn(activity, all);
  const startable = activity.status === "NOT_STARTED" || activity.status === "FAILED";
  const running = activity.status === "IN_PROGRESS";
  const state = `It is ${activityStatusWord(activity.status).toLowerCase()}.`;
  return {
    start: refusal ?? (!startable ? state : waiting.length ? `Waits for ${waiting.join(", ")}.` : null),
    complete: refusal ?? (running ? null : "Only an activity in progress can be completed."),
    fail: refusal ?? (running ? null : "Only an activity in progress can fail."),
    skip: refusal ?? (startable ? null : state),
  };
}

const WORDS: Record<string, string> = {
  NOT_STARTED: "Not started",
  IN_PROGRESS: "In progress",
  DONE: "Done",
  FAILED: "Failed",
  SKIPPED: "Skipped",
};

export function activityStatusWord(status: string): string {
  return WORDS[status] ?? status.charAt(0) + status.slice(1).toLowerCase().replace(/_/g, " ");
}
