// The server's conflicts as a list whose entries say the clash in words and link to
// each record involved: on the calendar for a period, on a release's page for its own.
import { useEffect, useMemo } from "react";
import { Link } from "react-router";
import { useQuery } from "urql";
import { conflictKindWord, conflictsInvolving, recordLink, releaseConflictRange, type ConflictLike, type Span } from "../lib/conflicts";
import { ExportLink } from "./common";
import { errorText } from "../lib/errors";
import { formatWindow } from "../lib/time";
import { CalendarConflictsQuery, ReleaseBookingsQuery } from "../operations";

export function ConflictList({
  conflicts,
  loading,
  releaseOfChange,
  title = "Conflicts",
  empty = "No conflicts in this period.",
  className = "",
  exportLink,
}: {
  conflicts: readonly ConflictLike[] | undefined;
  loading: boolean;
  releaseOfChange: ReadonlyMap<string, string>;
  title?: string;
  empty?: string;
  className?: string;
  /** The CSV of this list, with its filters. */
  exportLink?: string;
}) {
  return (
    <section className={`conflict-list ${className}`} aria-labelledby="conflicts-title" aria-busy={loading && !conflicts}>
      <div className="section-head">
        <h2 id="conflicts-title">{title}{conflicts ? ` (${conflicts.length})` : ""}</h2>
        {exportLink ? <ExportLink href={exportLink} what="conflicts" /> : null}
      </div>
      {!conflicts ? (
        loading ? <p className="muted">Checking every system for conflicts…</p> : null
      ) : conflicts.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <ul>
          {conflicts.map((c, i) => (
            <li key={`${c.kind}-${i}`} data-conflict={c.kind} className={c.severity === "BLOCKING" ? "conflict-blocking" : "conflict-warning"}>
              <strong>{conflictKindWord(c.kind)}</strong>
              {c.severity === "BLOCKING" ? " (blocking)" : ""} · <span className="muted">{formatWindow(c.start, c.end)}</span>
              <br />
              {c.reason}
              {c.records.length > 0 ? (
                <span className="conflict-records">
                  {" "}Involves:{" "}
                  {c.records.map((r, j) => {
                    const link = recordLink(r, releaseOfChange);
                    const sep = j > 0 ? ", " : "";
                    if (!link) return <span key={r.id}>{sep}{r.label}</span>;
                    return (
                      <span key={r.id}>
                        {sep}
                        {link.external ? (
                          <a href={link.href} target="_blank" rel="noreferrer">{r.label}</a>
                        ) : (
                          <Link to={link.href}>{r.label}</Link>
                        )}
                      </span>
                    );
                  })}
                </span>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * The conflicts a release is part of, from the same engine as the calendar: over its
 * window and its bookings' windows, read again whenever one of them changes.
 */
export function ReleaseConflicts({
  release,
}: {
  release: { id: string; key: string; windowStart?: string | null; windowEnd?: string | null; changeRequests: readonly { id: string; number: string; state: string; approval: string }[] };
}) {
  // The same query as the bookings section: one answer, refreshed when that one is.
  const [booked] = useQuery({ query: ReleaseBookingsQuery, variables: { key: release.key } });
  const bookings: readonly (Span & { id: string; status: string })[] | undefined = booked.data?.release?.bookings;
  const range = releaseConflictRange({ start: release.windowStart, end: release.windowEnd }, bookings ?? []);
  const [{ data, fetching, error }, reexecute] = useQuery({
    query: CalendarConflictsQuery,
    variables: { from: range?.from ?? "", to: range?.to ?? "", filter: null },
    pause: !range || !bookings,
  });
  // A booking decided or a change approved changes the conflicts, not their period.
  const signature = [
    ...(bookings ?? []).map((b) => `${b.id}:${b.status}:${b.start}:${b.end}`),
    ...release.changeRequests.map((c) => `${c.id}:${c.state}:${c.approval}`),
  ].join("|");
  useEffect(() => {
    if (range) reexecute({ requestPolicy: "network-only" });
  }, [signature]);
  const ids = useMemo(
    () => new Set([release.id, ...(bookings ?? []).map((b) => b.id), ...release.changeRequests.map((c) => c.id)]),
    [release.id, bookings, release.changeRequests],
  );
  const mine = data ? conflictsInvolving(data.conflicts, ids) : undefined;
  const changes = useMemo(() => new Map(release.changeRequests.map((c) => [c.number, release.key])), [release.changeRequests, release.key]);
  if (!range) {
    return (
      <section className="card conflict-list" aria-labelledby="conflicts-title">
        <h2 id="conflicts-title">Conflicts</h2>
        <p className="muted">No window and no booking yet, so nothing to clash with.</p>
      </section>
    );
  }
  return (
    <>
      {error ? <p className="banner banner-error" role="alert">{errorText(error)}</p> : null}
      <ConflictList
        conflicts={mine}
        loading={fetching}
        releaseOfChange={changes}
        className="card"
        empty={`No conflicts for ${release.key}: its window and bookings clash with nothing.`}
      />
    </>
  );
}
