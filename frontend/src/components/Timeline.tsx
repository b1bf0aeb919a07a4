// A horizontal timeline: one row per group, bars placed by time and as long as their
// real window, stacked in lanes where they overlap. A window too short to draw as a bar
// is a marker with its label beside it. Bars with an href are links, so Tab walks
// through them; each shows its full label on hover and on focus.
import { Link } from "react-router";
import { assignLanes, place, type Range, type Tick } from "../lib/time";
import "./Timeline.css";

export interface TimelineItem {
  id: string;
  start: Date;
  end: Date;
  label: string;
  title: string;
  kind: "release" | "change" | "blackout" | "booking";
  tone?: string;
  href?: string;
  conflicts?: readonly string[];
}

export interface TimelineRow {
  id: string;
  label: string;
  items: TimelineItem[];
}

/** Below this share of the range (in percent) a window is drawn as a marker. */
export const MARKER_BELOW = 1.2;
/** Room a marker's label takes, as a share of the range (about 850 px of track at
 * 1280 px wide), so lanes keep labels apart. */
const labelRoom = (label: string) => (label.length * 7.5 + 28) / 850;

export function Timeline({ range, ticks, rows, now }: { range: Range; ticks: Tick[]; rows: TimelineRow[]; now: Date }) {
  const span = range.to.getTime() - range.from.getTime();
  const nowPlace = place(range, now, new Date(now.getTime() + 1));
  const shading = ticks.filter((t) => t.weekend);
  return (
    <div className="timeline" role="grid" aria-label="Release calendar">
      <div className="tl-row tl-head" role="row">
        <div className="tl-label" role="columnheader">
          &nbsp;
        </div>
        <div className="tl-track" role="columnheader">
          {ticks.map((t) => (
            <span key={t.at.toISOString()} className={`tl-tick ${t.weekend ? "tl-tick-weekend" : ""}`} style={{ left: `${t.left}%` }} title={t.at.toUTCString().slice(0, 16)}>
              {t.label}
            </span>
          ))}
        </div>
      </div>
      {rows.map((row) => {
        // Lanes are computed on what is drawn (a marker's label included), so nothing hides another.
        const visual = row.items.map((item) => {
          const where = place(range, item.start, item.end);
          const marker = !where || where.width < MARKER_BELOW;
          // A bar too short for its label writes the label beside it, and makes room for it.
          const outside = !marker && where.width / 100 < labelRoom(item.label);
          const room = marker || outside ? span * labelRoom(item.label) : span * 0.02;
          // Near the end of the range the label goes before the mark, not cut at the edge.
          const flip = (marker || outside) && !!where && where.left + where.width + labelRoom(item.label) * 100 > 100;
          const start = flip ? item.start.getTime() - room : item.start.getTime();
          return { ...item, start: new Date(start), end: new Date(Math.max(item.end.getTime(), start + room)), realStart: item.start, realEnd: item.end, marker, outside, flip };
        });
        const placed = assignLanes(visual);
        const lanes = Math.max(1, ...placed.map((p) => p.lane + 1));
        return (
          <div className="tl-row" role="row" key={row.id} data-row={row.id}>
            <div className="tl-label" role="rowheader">
              {row.label}
            </div>
            <div className="tl-track" role="gridcell" style={{ height: `${lanes * 30 + 8}px` }}>
              {shading.map((t) => (
                <span key={`w${t.at.toISOString()}`} className="tl-weekend" style={{ left: `${t.left}%`, width: `${t.width}%` }} />
              ))}
              {ticks.map((t) => (
                <span key={t.at.toISOString()} className="tl-grid" style={{ left: `${t.left}%` }} />
              ))}
              {nowPlace ? <span className="tl-now" style={{ left: `${nowPlace.left}%` }} title="Now" /> : null}
              {placed.map(({ item, lane }) => {
                const where = place(range, item.realStart, item.realEnd) ?? (item.marker ? place(range, item.realStart, new Date(item.realStart.getTime() + 1)) : null);
                if (!where) return null;
                const conflict = item.conflicts && item.conflicts.length > 0;
                const className = `tl-bar tl-${item.kind} ${item.tone ? `tone-${item.tone}` : ""} ${conflict ? "tl-conflict" : ""} ${item.marker ? "tl-marker" : ""} ${item.outside ? "tl-outside" : ""} ${item.flip ? "tl-flip" : ""}`;
                const style = item.marker
                  ? { left: `calc(${where.left}% - 6px)`, top: `${lane * 30 + 4}px` }
                  : { left: `${where.left}%`, width: `${where.width}%`, top: `${lane * 30 + 4}px` };
                const title = conflict ? `${item.title}\nConflict: ${item.conflicts!.join("; ")}` : item.title;
                const body = (
                  <>
                    {item.marker ? <span className="tl-diamond" aria-hidden="true" /> : null}
                    <span className="tl-text">
                      {conflict ? <span aria-hidden="true">⚠ </span> : null}
                      {item.label}
                    </span>
                    <span className="tl-full" aria-hidden="true">
                      {conflict ? "⚠ " : ""}
                      {item.title.split("\n").slice(0, 2).join(" · ")}
                    </span>
                    {conflict ? <span className="sr-only"> (conflict: {item.conflicts!.join("; ")})</span> : null}
                  </>
                );
                return item.href ? (
                  <Link key={item.id} to={item.href} className={className} style={style} title={title} data-kind={item.kind} data-marker={item.marker || undefined}>
                    {body}
                  </Link>
                ) : (
                  <span key={item.id} className={className} style={style} title={title} data-kind={item.kind} data-marker={item.marker || undefined} tabIndex={0}>
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
