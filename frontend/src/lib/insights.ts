// DORA's four keys as the insights page shows them: the query, figures in words, and
// which records stand behind a figure (for the drill-down). No React here.
import { graphql } from "../gql";
import type { InsightsPageQuery } from "../gql/graphql";

export const InsightsPage = graphql(`
  query InsightsPage($from: DateTime!, $to: DateTime!, $apps: [String!], $bucket: InsightBucket, $zone: String!) {
    insights(from: $from, to: $to, applications: $apps, bucket: $bucket, timeZone: $zone) {
      applications { ...Keys }
      overall { ...Keys }
      trend { ...Keys }
      deployments { id application at succeeded repository ref url change work }
      work { id application title url mergedAt firstCommitAt deployment leadTimeHours }
      changes { number title url emergency plannedStart plannedEnd }
      incidents { number application title url openedAt resolvedAt causedBy }
    }
  }
  fragment Keys on FourKeys {
    application
    periodStart
    periodEnd
    deploymentFrequency { value band sampleSize records work }
    leadTime { value band sampleSize records work }
    changeFailureRate { value band sampleSize records work }
    timeToRestore { value band sampleSize records work }
    failures { deployment reasons incidents restoredAt }
  }
`);

export type InsightsData = InsightsPageQuery["insights"];
export type Keys = InsightsData["overall"];
export type Figure = Keys["leadTime"];
export type KeyName = "deploymentFrequency" | "leadTime" | "changeFailureRate" | "timeToRestore";

const DAY_MS = 86_400_000;

/** The whole days a trend bucket covers when the period cuts it short (its first or its
 * last: this month so far), else null. A month or week only partly covered counts what
 * happened in those days alone, so it is labelled as such (a month four days old with no
 * deployment yet is not a month of none). */
export function partialDays(periodStart: string, periodEnd: string, bucket: "WEEK" | "MONTH"): number | null {
  const start = new Date(periodStart);
  const end = new Date(periodEnd);
  const span = end.getTime() - start.getTime();
  const full = bucket === "WEEK" ? 7 * DAY_MS : fullMonthMs(start);
  // An hour's slack: a month or week spanning a daylight-saving change is 23 or 25 hours off.
  if (span >= full - 3_600_000) return null;
  return Math.max(1, Math.ceil(span / DAY_MS));
}

function fullMonthMs(start: Date): number {
  // A bucket starts at a local midnight, up to 14 hours either side of UTC's: half a day
  // on, the UTC date is in the bucket's own month whatever the reader's zone.
  const inMonth = new Date(start.getTime() + 14 * 3_600_000);
  const days = new Date(Date.UTC(inMonth.getUTCFullYear(), inMonth.getUTCMonth() + 1, 0)).getUTCDate();
  return days * DAY_MS;
}

export const KEYS: readonly { key: KeyName; label: string; better: string }[] = [
  { key: "deploymentFrequency", label: "Deployment frequency", better: "higher is better" },
  { key: "leadTime", label: "Lead time for changes", better: "lower is better" },
  { key: "changeFailureRate", label: "Change failure rate", better: "lower is better" },
  { key: "timeToRestore", label: "Time to restore", better: "lower is better" },
];

export const PERIODS: readonly { days: number; label: string }[] = [
  { days: 30, label: "Last 30 days" },
  { days: 90, label: "Last 90 days" },
  { days: 180, label: "Last 6 months" },
  { days: 365, label: "Last year" },
];

/** The day after a `YYYY-MM-DD` date, in the same form; null for anything else. */
export function dayAfter(day: string): string | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(day);
  if (!m) return null;
  const next = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + 1));
  return Number.isNaN(next.getTime()) ? null : next.toISOString().slice(0, 10);
}

const BAND_WORDS: Record<string, string> = { ELITE: "Elite", HIGH: "High", MEDIUM: "Medium", LOW: "Low" };
const BAND_TONES: Record<string, string> = { ELITE: "ok", HIGH: "ok", MEDIUM: "warn", LOW: "bad" };

export function bandWord(band: string | null | undefined): string {
  return band ? BAND_WORDS[band] ?? band : "Not enough data";
}

export function bandTone(band: string | null | undefined): string {
  return band ? BAND_TONES[band] ?? "" : "";
}

/** Hours as a person says them: minutes, hours or days. */
export function duration(hours: number): string {
  if (hours < 1) return `${Math.round(hours * 60)} min`;
  if (hours < 48) return `${hours.toFixed(1)} hours`;
  return `${(hours / 24).toFixed(1)} days`;
}

/** A figure's value in words; "No data" when there is nothing to measure. */
export function figureText(key: KeyName, figure: Figure): string {
  const value = figure.value;
  if (value == null) return "No data";
  if (key === "deploymentFrequency") return `${value.toFixed(2)} a week`;
  if (key === "changeFailureRate") return `${Math.round(value * 100)} %`;
  return duration(value);
}

/** What the sample counts, for "from N …". */
export function sampleText(key: KeyName, figure: Figure): string {
  const n = figure.sampleSize;
  if (key === "leadTime") return `${n} ${n === 1 ? "change" : "changes"}`;
  if (key === "timeToRestore") return `${n} ${n === 1 ? "failure" : "failures"}`;
  return `${n} ${n === 1 ? "deployment" : "deployments"}`;
}

/** The value a chart plots: per week, hours, or a percentage; null leaves a gap. */
export function plotted(key: KeyName, figure: Figure): number | null {
  if (figure.value == null) return null;
  const value = key === "changeFailureRate" ? figure.value * 100 : figure.value;
  return Math.round(value * 100) / 100;
}

export const UNITS: Record<KeyName, string> = {
  deploymentFrequency: "per week",
  leadTime: "hours",
  changeFailureRate: "%",
  timeToRestore: "hours",
};

export type Deployment = InsightsData["deployments"][number];
export type Work = InsightsData["work"][number];
export type Change = InsightsData["changes"][number];
export type Incident = InsightsData["incidents"][number];

export interface Behind {
  deployments: Deployment[];
  work: Work[];
  changes: Change[];
  incidents: Incident[];
}

const EMERGENCY = /^emergency change (.+)$/;

/**
 * The records behind one figure of `keys`: its deployments, and by key the work it
 * measured (lead time), or the failures' incidents and changes (failure rate, restore).
 */
export function recordsBehind(data: InsightsData, keys: Keys, key: KeyName): Behind {
  const figure = keys[key];
  const byId = new Map(data.deployments.map((d) => [d.id, d]));
  const deployments = figure.records.map((id) => byId.get(id)).filter((d): d is Deployment => d !== undefined);
  const workById = new Map(data.work.map((w) => [w.id, w]));
  const work = key === "leadTime" ? figure.work.map((id) => workById.get(id)).filter((w): w is Work => w !== undefined) : [];
  let incidents: Incident[] = [];
  let changes: Change[] = [];
  if (key === "changeFailureRate" || key === "timeToRestore") {
    const counted = new Set(figure.records);
    const failures = keys.failures.filter((f) => counted.has(f.deployment));
    const incidentIds = new Set(failures.flatMap((f) => f.incidents));
    incidents = data.incidents.filter((i) => incidentIds.has(i.number));
    const numbers = new Set<string>();
    for (const f of failures) {
      const change = byId.get(f.deployment)?.change;
      if (change) numbers.add(change);
      for (const reason of f.reasons) {
        const m = EMERGENCY.exec(reason);
        if (m) numbers.add(m[1]);
      }
    }
    changes = data.changes.filter((c) => numbers.has(c.number));
  }
  return { deployments, work, changes, incidents };
}

/** Why a deployment failed, in words, or "" when it did not. */
export function failureWords(keys: Keys, deployment: string): string {
  const failure = keys.failures.find((f) => f.deployment === deployment);
  if (!failure) return "";
  return failure.reasons
    .map((r) => r.replace(/^incident /, "Incident ").replace(/^emergency change /, "Emergency change ").replace(/^rolled back by .*/, "Rolled back"))
    .join(", ");
}

/** "PAY", or "All applications" for the overall figures. */
export function scopeWord(keys: Keys): string {
  return keys.application ?? "All applications";
}

/** The deployment's short name: repository and its number upstream. */
export function deploymentName(d: Deployment): string {
  const number = d.id.split("/deployments/")[1] ?? d.id;
  return `${d.repository} deployment ${number}`;
}
