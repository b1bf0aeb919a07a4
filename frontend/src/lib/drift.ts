// Drift across environments: which version each tier runs of each application, and
// the applications whose tiers do not all run the same thing.

export interface EnvironmentLike {
  id: string;
  name: string;
  tier: string;
  deployedVersions: readonly {
    application: string | null | undefined;
    deployment: { repository: string; ref: string; sha: string; updatedAt: string; url: string };
  }[];
}

const TIER_ORDER = ["DEV", "TEST", "STAGING", "PRODUCTION"];

export interface DriftCell {
  ref: string;
  sha: string;
  url: string;
  updatedAt: string;
}

export interface DriftRow {
  application: string;
  cells: (DriftCell | null)[];
  /** Deployed somewhere, and not the same everywhere it is (or missing from a tier). */
  differs: boolean;
  /** For each column: whether it runs something else than the furthest tier that has it. */
  behind: boolean[];
}

export interface Drift {
  environments: EnvironmentLike[];
  rows: DriftRow[];
}

export function orderEnvironments<T extends { tier: string; name: string }>(environments: readonly T[]): T[] {
  return [...environments].sort((a, b) => TIER_ORDER.indexOf(a.tier) - TIER_ORDER.indexOf(b.tier) || a.name.localeCompare(b.name));
}

export function drift(environments: readonly EnvironmentLike[]): Drift {
  const ordered = orderEnvironments(environments);
  const apps = new Set<string>();
  for (const env of ordered) for (const v of env.deployedVersions) apps.add(v.application ?? v.deployment.repository);
  const rows = [...apps].sort().map((application) => {
    const cells = ordered.map((env) => {
      const v = env.deployedVersions.find((x) => (x.application ?? x.deployment.repository) === application);
      return v ? { ref: v.deployment.ref, sha: v.deployment.sha, url: v.deployment.url, updatedAt: v.deployment.updatedAt } : null;
    });
    const present = cells.filter((c): c is DriftCell => c !== null);
    const shas = new Set(present.map((c) => c.sha || c.ref));
    const differs = shas.size > 1 || (present.length > 0 && present.length < cells.length);
    // The furthest tier (production last) is the reference the others are compared with.
    const reference = [...present].pop();
    const behind = cells.map((c) => differs && (c === null || (reference !== undefined && (c.sha || c.ref) !== (reference.sha || reference.ref))));
    return { application, cells, differs, behind };
  });
  return { environments: ordered, rows };
}
