// Words for people: every code the graph answers with, said the way a release manager
// would say it. Nothing on screen shows an enum, an audit action or an error code raw.

const RELEASE_STATUS: Record<string, string> = {
  PLANNED: "Planned",
  IN_PROGRESS: "In progress",
  READY: "Ready",
  DEPLOYING: "Deploying",
  DEPLOYED: "Deployed",
  CANCELLED: "Cancelled",
};

const APPROVAL: Record<string, string> = {
  NOT_REQUESTED: "Approval not asked yet",
  REQUESTED: "Awaiting approval",
  APPROVED: "Approved",
  REJECTED: "Rejected",
};

const CHANGE_STATE: Record<string, string> = {
  NEW: "New",
  ASSESS: "In assessment",
  AUTHORIZE: "Awaiting authorization",
  SCHEDULED: "Scheduled",
  IMPLEMENT: "Being implemented",
  REVIEW: "In review",
  CLOSED: "Closed",
  CANCELED: "Cancelled",
  REJECTED: "Rejected",
  ON_HOLD: "On hold",
};

const WORK_STATUS: Record<string, string> = { TODO: "To do", IN_PROGRESS: "In progress", DONE: "Done" };

const LINK_KIND: Record<string, string> = {
  PLANNED_VERSION: "Planned version",
  MILESTONE: "Milestone",
  CODE_RANGE: "Code range",
  CHANGE_REQUEST: "Change request",
};

const TIER: Record<string, string> = { DEV: "Development", TEST: "Test", STAGING: "Staging", PRODUCTION: "Production" };

const RELEASE_TYPE: Record<string, string> = { ENTERPRISE: "Enterprise", PROJECT: "Project", EMERGENCY: "Emergency" };

const ROLE: Record<string, string> = { VIEWER: "Viewer", RELEASE_MANAGER: "Release manager", ADMIN: "Administrator" };

const RISK: Record<string, string> = { LOW: "Low", MODERATE: "Moderate", HIGH: "High", VERY_HIGH: "Very high" };

const CHANGE_TYPE: Record<string, string> = { STANDARD: "Standard", NORMAL: "Normal", EMERGENCY: "Emergency" };

const GATE: Record<string, string> = {
  change_approved: "Change approved",
  blackout: "Outside blackout windows",
  blockers: "No open blockers",
};

const ERROR_CODE: Record<string, string> = {
  UPSTREAM_UNAVAILABLE: "could not be reached",
  UPSTREAM_TIMEOUT: "answered too slowly",
  UPSTREAM_RATE_LIMITED: "is limiting how often we may ask",
  UPSTREAM_AUTH_FAILED: "refused our credentials",
  UPSTREAM_BAD_RESPONSE: "answered with something we could not read",
  BAD_LINK_KEY: "cannot name that record",
};

/** Sentence case of an unknown code, so even a new code never shows as SHOUTED_SNAKE. */
export function humanize(code: string): string {
  const words = code.replace(/[_.]+/g, " ").trim().toLowerCase();
  return words ? words[0].toUpperCase() + words.slice(1) : "";
}

const lookup = (table: Record<string, string>) => (code: string | null | undefined) =>
  code ? (table[code] ?? humanize(code)) : "—";

export const releaseStatusWord = lookup(RELEASE_STATUS);
export const approvalWord = lookup(APPROVAL);
export const changeStateWord = lookup(CHANGE_STATE);
export const workStatusWord = lookup(WORK_STATUS);
export const linkKindWord = lookup(LINK_KIND);
export const tierWord = lookup(TIER);
export const releaseTypeWord = lookup(RELEASE_TYPE);
export const roleWord = lookup(ROLE);
export const riskWord = lookup(RISK);
export const changeTypeWord = lookup(CHANGE_TYPE);
/** A deployment gate by name: "change_approved" reads "Change approved". */
export const gateWord = lookup(GATE);

/** What went wrong with an upstream, as the end of a sentence naming it. */
export function errorCodeWords(code: string | null | undefined): string {
  return code ? (ERROR_CODE[code] ?? humanize(code).toLowerCase()) : "";
}

/** "1 open blocker", "3 open blockers": never "blocker(s)". */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export interface AuditLike {
  action: string;
  entityType?: string | null;
  entityKey?: string | null;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
}

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});

const FIELD: Record<string, string> = {
  key: "key",
  name: "name",
  type: "type",
  description: "description",
  windowStart: "window start",
  window_start: "window start",
  windowEnd: "window end",
  window_end: "window end",
  applications: "applications",
  parent: "parent",
  parent_id: "parent",
  parentId: "parent",
  tier: "tier",
  tiers: "tiers",
  start: "start",
  end: "end",
  reason: "reason",
  deploy_target: "deploy target",
  deployTarget: "deploy target",
};

function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "nothing";
  if (Array.isArray(value)) return value.length ? value.map(show).join(", ") : "none";
  if (typeof value === "string") {
    if (/^\d{4}-\d\d-\d\dT/.test(value)) return value.slice(0, 16).replace("T", " ") + " UTC";
    if (/^[A-Z][A-Z_]+$/.test(value)) return RELEASE_STATUS[value] ?? TIER[value] ?? RELEASE_TYPE[value] ?? humanize(value);
    if (/^[a-z]+(_[a-z]+)+$/.test(value)) return GATE[value] ?? humanize(value).toLowerCase();
    return value;
  }
  return String(value);
}

const IGNORED = new Set(["version", "id", "updated_at", "created_at", "updatedAt", "createdAt", "release_id"]);

/** The fields that differ between before and after, as "name from A to B". */
function moves(before: Json, after: Json): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !IGNORED.has(k));
  return keys
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => `${FIELD[k] ?? humanize(k).toLowerCase()} from ${show(before[k])} to ${show(after[k])}`);
}

const ENTITY: Record<string, string> = {
  Release: "release",
  ReleasePhase: "phase",
  SourceLink: "link",
  Environment: "environment",
  BlackoutWindow: "blackout window",
  ChangeIntent: "change request",
};

/** One audit event in a sentence: what moved from what to what. */
export function describeAudit(event: AuditLike): string {
  const before = asObject(event.before);
  const after = asObject(event.after);
  const what = event.entityKey ? ` ${event.entityKey}` : "";
  switch (event.action) {
    case "release.transition":
      return `Moved from ${show(before.status)} to ${show(after.status)}`;
    case "gate.override": {
      const failed = Array.isArray(before.failed) ? before.failed.map((g) => gateWord(String(g)).toLowerCase()) : [];
      return `Gates overridden to move to ${show(after.status)}${failed.length ? ` (failing: ${failed.join(", ")})` : ""}`;
    }
    case "release.create":
      return `Created release${what}`;
    case "release.delete":
      return `Deleted release${what}`;
    case "link.create":
      return `Linked ${linkKindWord(String(after.kind ?? "")).toLowerCase()} ${show(after.external_key ?? after.externalKey ?? event.entityKey)}${after.source ? ` in ${show(after.source)}` : ""}`;
    case "link.delete":
      return `Unlinked ${linkKindWord(String(before.kind ?? "")).toLowerCase()} ${show(before.external_key ?? before.externalKey ?? event.entityKey)}`;
    case "phase.create":
      return `Added phase ${show(after.name ?? event.entityKey)}`;
    case "phase.delete":
      return `Removed phase ${show(before.name ?? event.entityKey)}`;
    case "change.intent":
      return `Asked to raise a change request${after.source ? ` in ${show(after.source)}` : ""}`;
    case "change.claim":
      return "Started raising the change request";
    case "change.raise":
      return `Raised change request ${show(after.number ?? event.entityKey)}`;
    case "change.refused":
      return "The change system refused the change request";
    case "change.upstream":
      return `Change ${show(event.entityKey)} moved upstream to ${changeStateWord(String(after.state ?? "")).toLowerCase()}${after.approval ? `, ${approvalWord(String(after.approval)).toLowerCase()}` : ""}`;
    case "change.webhook_refused":
      return `Refused an upstream update of change ${show(event.entityKey)}${after.state ? ` to ${changeStateWord(String(after.state)).toLowerCase()}` : ""}`;
    case "booking.request":
      return `Requested ${show(event.entityKey)}`;
    case "booking.approve":
    case "booking.reject":
    case "booking.cancel": {
      const did = { "booking.approve": "Approved", "booking.reject": "Rejected", "booking.cancel": "Cancelled" }[event.action];
      return `${did} ${show(event.entityKey)}: from ${show(before.status).toLowerCase()} to ${show(after.status).toLowerCase()}`;
    }
    case "booking.override":
      return `Approved ${show(event.entityKey)} over a clashing approved booking`;
    case "activity.add":
      return `Added activity ${show(event.entityKey)} to the deployment plan`;
    case "activity.remove":
      return `Removed activity ${show(event.entityKey)} from the deployment plan`;
    case "activity.start":
    case "activity.complete":
    case "activity.fail":
    case "activity.skip": {
      const did = { "activity.start": "Started", "activity.complete": "Completed", "activity.fail": "Marked failed", "activity.skip": "Skipped" }[event.action];
      return `${did} activity ${show(event.entityKey)}: from ${show(before.status).toLowerCase()} to ${show(after.status).toLowerCase()}`;
    }
    case "plan.create":
      return "Created the deployment plan";
    case "plan.delete":
      return "Deleted the deployment plan";
    case "plan.reorder":
      return `Reordered the deployment plan from ${show(before.order)} to ${show(after.order)}`;
    case "gate.check":
      return `The pipeline asked to deploy to ${show(after.environment)}: ${after.decision === "pass" ? "gates passed" : "gates not passed"}`;
    case "gate.answer":
      return `Answered the pipeline for ${show(after.environment)}: ${show(after.decision).toLowerCase()}`;
    default: {
      const changed = moves(before, after);
      const [entity, verb] = event.action.split(".");
      const noun = ENTITY[event.entityType ?? ""] ?? humanize(entity).toLowerCase();
      const did = verb === "create" ? "Created" : verb === "delete" ? "Deleted" : verb === "update" ? "Changed" : humanize(verb ?? "");
      const head = `${did} ${noun}${what}`;
      return verb === "update" && changed.length ? `${head}: ${changed.join("; ")}` : head;
    }
  }
}

/** Release notes embedded in a page: their own headings step down `by` levels (the page
 * keeps its one h1, and the notes sit under the section's h2). */
export function embeddedNotes(html: string, by = 2): string {
  return html.replace(/<(\/?)h([1-6])>/g, (_, slash: string, level: string) => `<${slash}h${Math.min(6, Number(level) + by)}>`);
}
