// A horizontal timeline: one row per group, bars placed by time, stacked in lanes
// where they overlap. Bars with an href are links, so Tab walks through them.
import { Link } from "react-router";
import { assignLanes, place, type Range, type Tick } from "../lib/time";

export interface TimelineItem {
  id: string;
  start: Date;
  end: Date;
  label: string;
  title: string;
  kind: "release" | "change" | "blackout";
  tone?: string;
  href?: string;
  conflicts?: readonly string[];
}

export interface TimelineRow {
  id: string;
  label: string;
  items: TimelineItem[];
}

const MIN_SHARE = 0.11; // a bar is drawn at least this share of the range wide

export function Timeline({ range, ticks, rows, now }: { range: Range; ticks: Tick[]; rows: TimelineRow[]; now: Date }) {
  const span = range.to.getTime() - range.from.getTime();
  const nowPlace = place(range, now, new Date(now.getTime() + 1));
  return (
    <div className="timeline" role="grid" aria-label="Release calendar">
      <div className="tl-row tl-head" role="row">
        <div className="tl-label" role="columnheader">
          &nbsp;
        </div>
        <div className="tl-track" role="columnheader">
          {ticks.map((t) => (
            <span key={t.at.toISOString()} className="tl-tick" style={{ left: `${t.left}%` }}>
              {t.label}
            </span>
          ))}
        </div>
      </div>
      {rows.map((row) => {
        // Lanes are computed on drawn widths, so short windows never hide each other.
        const visual = row.items.map((item) => ({
          ...item,
          end: new Date(Math.max(item.end.getTime(), item.start.getTime() + span * MIN_SHARE)),
          realEnd: item.end,
        }));
        const placed = assignLanes(visual);
        const lanes = Math.max(1, ...placed.map((p) => p.lane + 1));
        return (
          <div className="tl-row" role="row" key={row.id} data-row={row.id}>
            <div className="tl-label" role="rowheader">
              {row.label}
            </div>
            <div className="tl-track" role="gridcell" style={{ height: `${lanes * 30 + 8}px` }}>
              {ticks.map((t) => (
                <span key={t.at.toISOString()} className="tl-grid" style={{ left: `${t.left}%` }} />
              ))}
              {nowPlace ? <span className="tl-now" style={{ left: `${nowPlace.left}%` }} title="Now" /> : null}
              {placed.map(({ item, lane }) => {
                const where = place(range, item.start, item.realEnd);
                if (!where) return null;
                const conflict = item.conflicts && item.conflicts.length > 0;
                const className = `tl-bar tl-${item.kind} ${item.tone ? `tone-${item.tone}` : ""} ${conflict ? "tl-conflict" : ""}`;
                const style = { left: `${where.left}%`, minWidth: `${MIN_SHARE * 100}%`, width: `${where.width}%`, top: `${lane * 30 + 4}px` };
                const title = conflict ? `${item.title}\nConflict: ${item.conflicts!.join("; ")}` : item.title;
                const body = (
                  <>
                    {conflict ? <span aria-hidden="true">⚠ </span> : null}
                    {item.label}
                    {conflict ? <span className="sr-only"> (conflict: {item.conflicts!.join("; ")})</span> : null}
                  </>
                );
                return item.href ? (
                  <Link key={item.id} to={item.href} className={className} style={style} title={title} data-kind={item.kind}>
                    {body}
                  </Link>
                ) : (
                  <span key={item.id} className={className} style={style} title={title} data-kind={item.kind} tabIndex={0}>
                    {body}
                  </span>
                );
              })}
            </div>
          </div>
        );
      })}
    </div>
  );
}
