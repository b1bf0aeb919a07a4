// Which upstream a piece of data came from, in the words people use for it, and
// what to say when one of them could not be read.
import { formatAge } from "./time";

const KIND_NAMES: Record<string, string> = {
  jira: "JIRA",
  github: "GitHub",
  servicenow: "ServiceNow",
  remedy: "BMC Remedy",
};

/** A connector instance's display name: its kind's product name when the name is the kind. */
export function sourceLabel(name: string, kind?: string): string {
  const known = KIND_NAMES[name.toLowerCase()];
  if (known) return known;
  if (kind && KIND_NAMES[kind.toLowerCase()]) return `${name} (${KIND_NAMES[kind.toLowerCase()]})`;
  return name;
}

export interface SourceProblem {
  source: string;
  code: string;
  stale: boolean;
  ageSeconds: number | null;
  message: string;
}

interface ErrorLike {
  message: string;
  extensions?: Record<string, unknown> | null;
}

/** The partial-result errors that name an upstream, one per source (stale copies preferred). */
export function sourceProblems(errors: readonly ErrorLike[] | undefined): SourceProblem[] {
  const bySource = new Map<string, SourceProblem>();
  for (const error of errors ?? []) {
    const ext = error.extensions ?? {};
    const source = typeof ext.source === "string" ? ext.source : null;
    if (!source) continue;
    const problem: SourceProblem = {
      source,
      code: typeof ext.code === "string" ? ext.code : "UPSTREAM_ERROR",
      stale: ext.stale === true,
      ageSeconds: typeof ext.ageSeconds === "number" ? ext.ageSeconds : null,
      message: error.message,
    };
    const seen = bySource.get(source);
    if (!seen || (!seen.stale && problem.stale)) bySource.set(source, problem);
  }
  return [...bySource.values()];
}

/** "ServiceNow unavailable, showing data from 3 minutes ago" or "…, its data is missing". */
export function describeProblem(problem: SourceProblem): string {
  const name = sourceLabel(problem.source);
  const what = problem.code === "UPSTREAM_RATE_LIMITED" ? "rate limited" : "unavailable";
  if (problem.stale && problem.ageSeconds !== null) {
    return `${name} ${what}, showing data from ${formatAge(problem.ageSeconds)}`;
  }
  return `${name} ${what}, its data is missing here`;
}
