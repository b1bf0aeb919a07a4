// Which links a source can hold, and where a picker searches for them: a tracker's
// versions by project, a code host's milestones by repository, an ITSM's changes.
import { sourceLabel, type SourceLike } from "./sources";

export type PickKind = "PLANNED_VERSION" | "MILESTONE" | "CODE_RANGE" | "CHANGE_REQUEST";

export interface LinkOption {
  id: string;
  source: string;
  kind: PickKind;
  label: string;
  /** What the picker searches in: "project", "repository", or nothing (changes). */
  container: "project" | "repository" | null;
}

interface CapableSource extends SourceLike {
  capabilities?: readonly string[];
}

export function linkOptions(sources: readonly CapableSource[]): LinkOption[] {
  const out: LinkOption[] = [];
  for (const s of sources) {
    const caps = s.capabilities ?? [];
    const name = sourceLabel(s);
    const add = (kind: PickKind, what: string, container: LinkOption["container"]) =>
      out.push({ id: `${s.name}:${kind}`, source: s.name, kind, label: `${what} in ${name}`, container });
    if (caps.includes("CODE_CHANGES")) {
      add("MILESTONE", "Milestone", "repository");
      add("CODE_RANGE", "Code range", "repository");
    } else if (caps.includes("WORK_ITEMS")) {
      add("PLANNED_VERSION", "Version", "project");
    }
    if (caps.includes("CHANGE_REQUESTS")) add("CHANGE_REQUEST", "Change request", null);
  }
  return out;
}

interface AppLike {
  repositories: readonly string[];
  projects: readonly string[];
}

/** The projects or repositories of the release's applications, each once. */
export function containersFor(option: LinkOption | undefined, apps: readonly AppLike[]): string[] {
  if (!option?.container) return [];
  const all = apps.flatMap((a) => (option.container === "project" ? a.projects : a.repositories));
  return [...new Set(all)];
}

/** A code range as the link takes it, or why not: "owner/repo@base...head". */
export function codeRangeProblem(text: string): string | null {
  const t = text.trim();
  if (!t) return "Write the range as owner/repo@base...head.";
  return /^[\w.-]+\/[\w.-]+@[^\s.][^\s]*\.\.\.[^\s]+$/.test(t) ? null : "Write the range as owner/repo@base...head, for example acme/shop@v1.2.0...v1.3.0.";
}
