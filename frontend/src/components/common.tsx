// Small pieces every page uses: loading skeletons, empty states, degraded banners,
// the readiness bar and status badges.
import type { ReactNode } from "react";
import { describeProblem, sourceProblems } from "../lib/sources";
import { readinessSummary, STATUS_LABELS, type ReadinessLike } from "../lib/releases";
import { formatDateTime, formatUtc, formatWindow } from "../lib/time";
import { approvalWord } from "../lib/words";
import "./layout.css";

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
  if (percent === null) {
    return (
      <div className="readiness">
        <span className="readiness-text readiness-none">{text}</span>
      </div>
    );
  }
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
  return <Badge tone={approval.toLowerCase()}>{approvalWord(approval)}</Badge>;
}

/** A time in the reader's zone, the same instant in UTC on hover. */
export function When({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  return (
    <time dateTime={iso} title={formatUtc(iso)}>
      {formatDateTime(iso)}
    </time>
  );
}

/** A window in the reader's zone, in UTC on hover. */
export function Window({ start, end }: { start: string | null | undefined; end: string | null | undefined }) {
  if (!start || !end) return <span className="muted">unscheduled</span>;
  return (
    <span className="nowrap" title={`${formatUtc(start)} → ${formatUtc(end)}`}>
      {formatWindow(start, end)}
    </span>
  );
}

export function OverdueMark({ what }: { what: string }) {
  return (
    <span className="mark tone-bad overdue" title={`${what} has passed its window and is not finished`}>
      Overdue
    </span>
  );
}

export function OverrideMark() {
  return (
    <span className="mark tone-override" title="Moved on although gates failed; the reason is in the history" data-testid="override-mark">
      Deploying under override
    </span>
  );
}

/** A control the signed-in role may not use: disabled, with the reason beside it. */
export function RoleNote({ refusal }: { refusal: string | null }) {
  return refusal ? (
    <p className="muted role-note" role="note">
      {refusal}
    </p>
  ) : null;
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <header className="page-header">
      <h1 id="page-title">{title}</h1>
      <div className="page-actions">{children}</div>
    </header>
  );
}

/** Previous and next page of a list, with where the reader is. */
export function Pager({ page, what, onPage }: { page: { page: number; pages: number; from: number; to: number; total: number }; what: string; onPage: (n: number) => void }) {
  return (
    <nav className="pager" aria-label="Pages">
      <span className="muted" role="status">
        {page.total === 0 ? `No ${what}` : `${page.from}–${page.to} of ${page.total} ${what}`}
      </span>
      <button type="button" onClick={() => onPage(page.page - 1)} disabled={page.page <= 1}>
        Previous page
      </button>
      <span>
        Page {page.page} of {page.pages}
      </span>
      <button type="button" onClick={() => onPage(page.page + 1)} disabled={page.page >= page.pages}>
        Next page
      </button>
    </nav>
  );
}

/** The upstream's own word beside Heatshield's, only when it says something else
 * ("Rejected Rejected" is noise; "In review · Completed (Final Review Required)" is not). */
export function UpstreamWord({ ours, word, title = "The upstream's own word" }: { ours: string; word: string; title?: string }) {
  if (!word || word.trim().toLowerCase() === ours.trim().toLowerCase()) return null;
  return (
    <span className="upstream-word" title={title}>
      {word}
    </span>
  );
}

/** A list page's rows as a CSV file, with the page's filters; `note` says what it leaves out. */
export function ExportLink({ href, what, note }: { href: string; what: string; note?: string }) {
  return (
    <a className="export-link" href={href} download title={note}>
      Export {what} as CSV
    </a>
  );
}
