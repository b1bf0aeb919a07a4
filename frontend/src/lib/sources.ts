// Which upstream a piece of data came from, in the words people use for it, and
// what to say when one of them could not be read.
import { formatAge } from "./time";

/** What the graph's `Source` says about a connector instance (its kind declares the product). */
export interface SourceLike {
  name: string;
  kind?: string;
  product?: string;
}

/** A connector instance's display name: the product's name when the instance is named after
 * its kind or product, else "name (Product)"; just the name when the product is not known. */
export function sourceLabel(source: SourceLike): string {
  const { name, kind, product } = source;
  if (!product) return name;
  const plain = name.toLowerCase();
  if (plain === kind?.toLowerCase() || plain === product.toLowerCase()) return product;
  return `${name} (${product})`;
}

/** The source named `name` among `sources`, or just its name when it is not among them. */
export function sourceNamed(name: string, sources: readonly SourceLike[] | undefined): SourceLike {
  return sources?.find((s) => s.name === name) ?? { name };
}

/** Whether a source can raise and read change requests, as its kind declares. */
export function raisesChanges(source: { capabilities?: readonly string[] }): boolean {
  return source.capabilities?.includes("CHANGE_REQUESTS") ?? false;
}

/** Change states after which a change is no longer in play. */
export const FINISHED_CHANGE_STATES: ReadonlySet<string> = new Set(["CLOSED", "CANCELED", "REJECTED"]);

interface ChangeLike {
  number: string;
  state: string;
  source: { name: string };
}

/** The release's changes still in play, other than in `source`. */
export function openChangesElsewhere<C extends ChangeLike>(changes: readonly C[], source: string): C[] {
  return changes.filter((c) => c.source.name !== source && !FINISHED_CHANGE_STATES.has(c.state));
}

/** The ITSM a new change request is raised in unless the release manager picks another:
 * the one where the release already has a change in play (so the panel shows that change
 * rather than offering a second one in another ITSM), else the first that raises changes. */
export function defaultChangeTarget(itsmSources: readonly SourceLike[], changes: readonly ChangeLike[]): string {
  const open = changes.find(
    (c) => !FINISHED_CHANGE_STATES.has(c.state) && itsmSources.some((s) => s.name === c.source.name),
  );
  return open?.source.name ?? itsmSources[0]?.name ?? "";
}

/** A work item's upstream kind word for people: "pull_request" -> "Pull request". */
export function workKindLabel(kind: string): string {
  const words = kind.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export interface SourceProblem {
  source: string;
  product: string | null;
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
      product: typeof ext.product === "string" ? ext.product : null,
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

/** A broken link (its record deleted, renamed or hidden upstream), not an outage. */
export function isBrokenLink(code: string | null | undefined): boolean {
  return code === "BAD_LINK_KEY";
}

/** "Change desk unavailable, showing data from 3 minutes ago" or "…, its data is missing";
 * for a broken link, what the source said is missing, so the link can be mended. */
export function describeProblem(problem: SourceProblem): string {
  const name = sourceLabel({ name: problem.source, product: problem.product ?? undefined });
  if (isBrokenLink(problem.code)) {
    const said = problem.message.startsWith(`${problem.source}: `) ? problem.message.slice(problem.source.length + 2) : problem.message;
    return `${name}: a linked record cannot be read, so its data is missing here (${said})`;
  }
  const what = problem.code === "UPSTREAM_RATE_LIMITED" ? "rate limited" : "unavailable";
  if (problem.stale && problem.ageSeconds !== null) {
    return `${name} ${what}, showing data from ${formatAge(problem.ageSeconds)}`;
  }
  return `${name} ${what}, its data is missing here`;
}
