// Small pieces every page uses: loading skeletons, empty states, degraded banners,
// the readiness bar and status badges.
import type { ReactNode } from "react";
import { describeProblem, sourceProblems } from "../lib/sources";
import { readinessSummary, STATUS_LABELS, type ReadinessLike } from "../lib/releases";

export function Skeleton({ rows = 4, label = "Loading" }: { rows?: number; label?: string }) {
  return (
    <div className="skeleton" role="status" aria-busy="true" aria-label={label}>
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="skeleton-row" style={{ width: `${90 - (i % 3) * 15}%` }} />
      ))}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="note">
      <strong>{title}</strong>
      {children ? <div>{children}</div> : null}
    </div>
  );
}

interface ErrorLike {
  message: string;
  graphQLErrors?: readonly { message: string; extensions?: Record<string, unknown> | null }[];
  networkError?: Error;
}

/** Shows which upstreams failed and how old the data shown in their place is. */
export function Degraded({ error }: { error: ErrorLike | undefined }) {
  if (!error) return null;
  const problems = sourceProblems(error.graphQLErrors);
  if (problems.length === 0) {
    const other = error.graphQLErrors?.find((e) => !e.extensions?.source);
    const text = error.networkError ? "Heatshield could not be reached; showing what was loaded before." : other?.message ?? error.message;
    return (
      <div className="banner banner-error" role="alert">
        {text}
      </div>
    );
  }
  return (
    <div className="banner banner-warn" role="alert" data-testid="degraded">
      {problems.map((p) => (
        <div key={p.source} title={p.message}>
          ⚠ {describeProblem(p)}
        </div>
      ))}
    </div>
  );
}

export function ReadinessBar({ readiness }: { readiness: ReadinessLike }) {
  const { percent, text } = readinessSummary(readiness);
  return (
    <div className="readiness" title={text}>
      <div
        className={`bar ${readiness.complete ? "" : "bar-partial"}`}
        role="progressbar"
        aria-valuenow={percent}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-label={`Readiness ${percent}%: ${text}`}
      >
        <div className="bar-fill" style={{ width: `${percent}%` }} />
      </div>
      <span className="readiness-text">
        {percent}% · {text}
      </span>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status.toLowerCase()}`}>{STATUS_LABELS[status] ?? status}</span>;
}

export function Badge({ tone, children }: { tone?: string; children: ReactNode }) {
  return <span className={`badge ${tone ? `tone-${tone}` : ""}`}>{children}</span>;
}

/** A change request's approval, in the same words and colours on every page. */
export function ApprovalBadge({ approval }: { approval: string }) {
  return <Badge tone={approval.toLowerCase()}>{approval.replace(/_/g, " ").toLowerCase()}</Badge>;
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <header className="page-header">
      <h1 id="page-title">{title}</h1>
      <div className="page-actions">{children}</div>
    </header>
  );
}
