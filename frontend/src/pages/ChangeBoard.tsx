// The change board's view: changes awaiting its decision in every ITSM, each with
// the release it belongs to, read in ITSM words (no pull requests, no commits).
import { useMemo, useRef, useState, type KeyboardEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { ApprovalBadge, Degraded, Empty, PageHeader, Skeleton } from "../components/common";
import { GateList } from "../components/ChangeBridge";
import { boardWeek, groupPending, nextIndex, weekLabel } from "../lib/cab";
import { sourceLabel } from "../lib/sources";
import { formatWindow } from "../lib/time";
import { changeStateWord, embeddedNotes, humanize } from "../lib/words";
import { underOverride } from "../lib/releases";
import { OverrideMark, UpstreamWord } from "../components/common";
import { CabReleaseQuery, ChangeBoardQuery, ChangesLiveSubscription, ReleaseLiveSubscription } from "../operations";
import { useLiveRefresh } from "../components/live";
import type { BoardChangeFragment } from "../gql/graphql";
import "../components/ChangeBoard.css";

type BoardChange = BoardChangeFragment;

function parseAnchor(value: string | null): Date {
  const parsed = value ? new Date(`${value}T00:00:00Z`) : new Date();
  return Number.isNaN(parsed.getTime()) ? new Date() : parsed;
}

function words(value: string | null | undefined): string {
  return value ? humanize(value).toLowerCase() : "—";
}

export default function ChangeBoardPage() {
  const [params, setParams] = useSearchParams();
  // Held here as well as in the URL: the router applies URL changes in a transition,
  // and a checkbox that waits for one flickers back for a moment after a click.
  const [thisWeek, setThisWeek] = useState(params.get("week") === "1");
  const week = boardWeek(parseAnchor(params.get("at")));
  const selectedId = params.get("change");
  const variables = useMemo(
    () => (thisWeek ? { windowFrom: week.from.toISOString(), windowTo: week.to.toISOString() } : {}),
    [thisWeek, week.from.getTime(), week.to.getTime()],
  );
  const [{ data, fetching, error }, refetch] = useQuery({ query: ChangeBoardQuery, variables });
  // A change decided or moved upstream leaves (or joins) the board at once.
  useLiveRefresh(ChangesLiveSubscription, {}, () => refetch({ requestPolicy: "network-only" }));
  const groups = useMemo(
    () => groupPending<BoardChange>([...(data?.authorize.nodes ?? []), ...(data?.assess.nodes ?? [])]),
    [data],
  );
  const all = groups.flatMap((g) => g.changes);
  const selected = all.find((c) => c.id === selectedId) ?? null;
  const listRef = useRef<HTMLDivElement>(null);

  const update = (key: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  const onListKey = (event: KeyboardEvent<HTMLDivElement>) => {
    const items = [...(listRef.current?.querySelectorAll<HTMLButtonElement>("button.cab-item") ?? [])];
    const current = items.indexOf(document.activeElement as HTMLButtonElement);
    const target = nextIndex(Math.max(current, 0), event.key, items.length);
    if (target === null) return;
    event.preventDefault();
    items[target].focus();
  };

  return (
    <section aria-label="Change board">
      <PageHeader title="Change board">
        <label className="inline">
          <input type="checkbox" checked={thisWeek} onChange={(e) => {
              setThisWeek(e.target.checked);
              update("week", e.target.checked ? "1" : null);
            }} />
          Scheduled this week <span className="muted">({weekLabel(week)})</span>
        </label>
      </PageHeader>
      <p className="muted cab-intro">
        Change requests waiting for assessment or authorization in every ITSM, with the release each one belongs to.
      </p>
      <Degraded error={error} />
      {!data && fetching ? (
        <Skeleton rows={8} label="Loading changes awaiting the board" />
      ) : all.length === 0 ? (
        data || !error ? (
          <Empty title="Nothing awaits the board">
            {thisWeek ? "No change in assessment or authorization is planned this week" : "No change is in assessment or authorization"}
            {error ? " in the systems that answered." : "."}
          </Empty>
        ) : null
      ) : (
        <div className="cab">
          <div className="cab-list" ref={listRef} onKeyDown={onListKey}>
            {groups.map((group) => (
              <section key={group.state} aria-labelledby={`cab-${group.state}`}>
                <h2 id={`cab-${group.state}`}>
                  {group.title} <span className="muted">({group.changes.length})</span>
                </h2>
                <ul className="plain">
                  {group.changes.map((c) => (
                    <li key={c.id}>
                      <ChangeItem change={c} current={c.id === selected?.id} onSelect={() => update("change", c.id)} />
                    </li>
                  ))}
                </ul>
              </section>
            ))}
            <p className="muted">↑ ↓ move between changes, Enter opens one.</p>
          </div>
          <div className="cab-detail" id="cab-detail">
            {selected ? (
              <ChangeDetail change={selected} />
            ) : (
              <Empty title="Select a change">Its release's CAB summary and gates show here.</Empty>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

function ChangeItem({ change: c, current, onSelect }: { change: BoardChange; current: boolean; onSelect: () => void }) {
  return (
    <button
      type="button"
      className="cab-item"
      aria-current={current ? "true" : undefined}
      aria-controls="cab-detail"
      data-change={c.number}
      onClick={onSelect}
    >
      <span className="cab-line">
        <strong>{c.number}</strong>
        <span className="muted">{sourceLabel(c.source)}</span>
        <ApprovalBadge approval={c.approval} />
      </span>
      <span className="cab-title">{c.title}</span>
      <span className="cab-line muted">
        <span className="upstream-word" title="The ITSM's own state word">
          {c.stateLabel}
        </span>
        <span>
          {words(c.type)} · {words(c.risk)} risk
        </span>
      </span>
      <span className="cab-line">
        <span className="nowrap">{formatWindow(c.plannedStart, c.plannedEnd)}</span>
        <span className="cab-release">{c.releases.length ? c.releases.map((r) => r.key).join(", ") : <span className="muted">no release</span>}</span>
      </span>
    </button>
  );
}

function ChangeDetail({ change: c }: { change: BoardChange }) {
  const [chosen, setChosen] = useState<string | null>(null);
  const release = c.releases.find((r) => r.key === chosen) ?? c.releases[0];
  return (
    <article className="card" aria-labelledby="cab-change-title">
      <h2 id="cab-change-title">
        {c.number} · {c.title}
      </h2>
      <dl className="preview" aria-label="The change request">
        <dt>System</dt>
        <dd>
          {sourceLabel(c.source)} ·{" "}
          <a href={c.url} target="_blank" rel="noreferrer">
            open {c.number}
          </a>
        </dd>
        <dt>State</dt>
        <dd>
          {changeStateWord(c.state)} <UpstreamWord ours={changeStateWord(c.state)} word={c.stateLabel} title="The ITSM's own state word" />
        </dd>
        <dt>Approval</dt>
        <dd>
          <ApprovalBadge approval={c.approval} />
        </dd>
        <dt>Planned window</dt>
        <dd>{formatWindow(c.plannedStart, c.plannedEnd)}</dd>
        <dt>Type / risk</dt>
        <dd>
          {words(c.type)} / {words(c.risk)}
        </dd>
      </dl>
      {c.releases.length > 1 ? (
        <div className="segmented cab-releases" role="group" aria-label="Releases of this change">
          {c.releases.map((r) => (
            <button key={r.id} type="button" aria-pressed={r.key === release.key} onClick={() => setChosen(r.key)}>
              {r.key}
            </button>
          ))}
        </div>
      ) : null}
      {release ? (
        <CabRelease release={release} />
      ) : (
        <Empty title="Not part of any release in Heatshield.">A CAB summary needs the release this change deploys.</Empty>
      )}
    </article>
  );
}

function CabRelease({ release }: { release: BoardChange["releases"][number] }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: CabReleaseQuery, variables: { key: release.key } });
  useLiveRefresh(ReleaseLiveSubscription, { key: release.key }, () => refetch({ requestPolicy: "network-only" }));
  const full = data?.release;
  return (
    <section className="cab-release-detail" aria-labelledby="cab-release-title">
      <h3 id="cab-release-title">
        Release <Link to={`/releases/${encodeURIComponent(release.key)}`}>{release.key}</Link> · {release.name}
      </h3>
      <p className="muted">
        Window {formatWindow(release.windowStart, release.windowEnd)} ·{" "}
        {release.applications.map((a) => `${a.name} (${a.cmdbItems.join(", ") || "no configuration item"})`).join("; ") ||
          "no application"}
      </p>
      <Degraded error={error} />
      {!full && fetching ? (
        <Skeleton rows={6} label="Writing the CAB summary" />
      ) : full ? (
        <>
          {underOverride(full.status, full.history) ? <OverrideMark /> : null}
          <h3>Gates</h3>
          <GateList gates={full.gates} />
          {/* The server escapes every upstream word before it writes the HTML; its first heading names it. */}
          <div className="notes cab-notes" role="region" aria-label="CAB summary" data-testid="cab-summary" dangerouslySetInnerHTML={{ __html: embeddedNotes(full.releaseNotes) }} />
        </>
      ) : null}
    </section>
  );
}
