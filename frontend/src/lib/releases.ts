// Release status words and the moves the dashboard offers. The server checks every
// move again (status machine and gates); this only decides which buttons to show.

export const STATUS_LABELS: Record<string, string> = {
  PLANNED: "Planned",
  IN_PROGRESS: "In progress",
  READY: "Ready",
  DEPLOYING: "Deploying",
  DEPLOYED: "Deployed",
  CANCELLED: "Cancelled",
};

const NEXT: Record<string, readonly string[]> = {
  PLANNED: ["IN_PROGRESS", "CANCELLED"],
  IN_PROGRESS: ["READY", "CANCELLED"],
  READY: ["DEPLOYING", "IN_PROGRESS", "CANCELLED"],
  DEPLOYING: ["DEPLOYED", "READY", "CANCELLED"],
  DEPLOYED: [],
  CANCELLED: [],
};

export interface Gate {
  name: string;
  passed: boolean;
  reason: string;
}

export interface Move {
  to: string;
  label: string;
  /** Why the move is held back, when a gate guarding it failed. */
  blockedBy: string[];
}

/** Gates guard the move into DEPLOYING; the other moves are never gated. */
export function availableMoves(status: string, gates: readonly Gate[] | null): Move[] {
  return (NEXT[status] ?? []).map((to) => ({
    to,
    label: to === "CANCELLED" ? "Cancel release" : `Move to ${STATUS_LABELS[to] ?? to}`,
    blockedBy: to === "DEPLOYING" && gates ? gates.filter((g) => !g.passed).map((g) => g.reason) : [],
  }));
}

export interface ReadinessLike {
  total: number;
  done: number;
  ratio: number;
  complete: boolean;
}

/** Percent done and the words that go with the bar (partial when a source was missing). */
export function readinessSummary(r: ReadinessLike): { percent: number; text: string } {
  const percent = Math.round(r.ratio * 100);
  const base = r.total === 0 ? "nothing to do" : `${r.done} of ${r.total} done`;
  return { percent, text: r.complete ? base : `${base} (partial)` };
}
