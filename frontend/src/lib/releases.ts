// Release status words and the moves the dashboard offers. Which moves the status machine
// allows comes from the server (`Release.availableTransitions`); the server checks every move
// again when it is made (status machine and gates). This only decides which buttons to show.

export const STATUS_LABELS: Record<string, string> = {
  PLANNED: "Planned",
  IN_PROGRESS: "In progress",
  READY: "Ready",
  DEPLOYING: "Deploying",
  DEPLOYED: "Deployed",
  CANCELLED: "Cancelled",
};

export interface Gate {
  name: string;
  passed: boolean;
  reason: string;
}

/** One entry of `Release.availableTransitions`. */
export interface TransitionLike {
  to: string;
  allowed: boolean;
  reason?: string | null;
  gated: boolean;
}

export interface Move {
  to: string;
  label: string;
  /** Why the move is held back, when a gate guarding it failed. */
  blockedBy: string[];
}

/** The moves the server allows from here; a gated move is held back by its failing gates. */
export function availableMoves(transitions: readonly TransitionLike[], gates: readonly Gate[] | null): Move[] {
  return transitions
    .filter((t) => t.allowed)
    .map((t) => ({
      to: t.to,
      label: t.to === "CANCELLED" ? "Cancel release" : `Move to ${STATUS_LABELS[t.to] ?? t.to}`,
      blockedBy: t.gated && gates ? gates.filter((g) => !g.passed).map((g) => g.reason) : [],
    }));
}

export interface ReadinessLike {
  total: number;
  done: number;
  ratio: number;
  complete: boolean;
}

/** Percent done and the words that go with the bar (partial when a source was missing).
 * A release with no work is not "100 % done": it has no work linked, and says so. */
export function readinessSummary(r: ReadinessLike): { percent: number | null; text: string } {
  if (r.total === 0) return { percent: null, text: r.complete ? "No work linked" : "No work found (partial)" };
  const percent = Math.round(r.ratio * 100);
  const base = `${r.done} of ${r.total} done`;
  return { percent, text: r.complete ? base : `${base} (partial)` };
}

/** Whether the release went on under a gate override and is still deploying or deployed:
 * the mark stays after the fact, read from the audit trail. */
export function underOverride(status: string, history: readonly { action: string }[]): boolean {
  return (status === "DEPLOYING" || status === "DEPLOYED") && history.some((h) => h.action === "gate.override");
}
