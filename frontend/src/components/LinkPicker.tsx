// Link a release to upstream records by picking them: versions of a tracker's project,
// milestones of a repository, change requests by number or words. Never a raw id.
import { useMemo, useState } from "react";
import { useMutation, useQuery } from "urql";
import { Degraded, Skeleton } from "./common";
import { codeRangeProblem, containersFor, linkOptions, type PickKind } from "../lib/links";
import { errorText } from "../lib/errors";
import { LinkCandidatesQuery, LinkSourceMutation } from "../operations";
import type { LinkKind } from "../gql/graphql";

interface AppLike {
  repositories: readonly string[];
  projects: readonly string[];
}

export function LinkPicker({
  releaseId,
  applications,
  sources,
  linkedKeys,
  onLinked,
}: {
  releaseId: string;
  applications: readonly AppLike[];
  sources: readonly { name: string; kind?: string; product?: string; capabilities?: readonly string[] }[];
  linkedKeys: readonly string[];
  onLinked: () => void;
}) {
  const options = useMemo(() => linkOptions(sources), [sources]);
  const [optionId, setOptionId] = useState(options[0]?.id ?? "");
  const option = options.find((o) => o.id === optionId) ?? options[0];
  const containers = containersFor(option, applications);
  const [container, setContainer] = useState("");
  const shownContainer = container || containers[0] || "";
  const [search, setSearch] = useState("");
  const [range, setRange] = useState("");
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [linking, link] = useMutation(LinkSourceMutation);
  const searching = option && option.kind !== "CODE_RANGE";
  const ready = searching && (option.container === null ? search.trim().length > 0 : shownContainer.trim().length > 0);
  const variables = useMemo(
    () => ({ source: option?.source ?? "", kind: (option?.kind ?? "PLANNED_VERSION") as LinkKind, container: shownContainer.trim(), search: search.trim() || null }),
    [option?.source, option?.kind, shownContainer, search],
  );
  const [{ data, fetching, error }] = useQuery({ query: LinkCandidatesQuery, variables, pause: !ready });

  const doLink = async (kind: PickKind, externalKey: string, label: string) => {
    if (!option) return;
    setMessage(null);
    const result = await link({ releaseId, link: { source: option.source, kind: kind as LinkKind, externalKey } });
    if (result.error) setMessage({ ok: false, text: errorText(result.error) });
    else {
      setMessage({ ok: true, text: `Linked ${label}.` });
      setRange("");
      onLinked();
    }
  };

  if (options.length === 0) return <p className="muted">No configured source holds records to link.</p>;
  const rangeProblem = option?.kind === "CODE_RANGE" && range ? codeRangeProblem(range) : null;

  return (
    <div className="picker" aria-labelledby="picker-title">
      <h3 id="picker-title">Link work or a change</h3>
      <div className="form-grid">
        <label>
          Link to
          <select
            value={option?.id}
            onChange={(e) => {
              setOptionId(e.target.value);
              setContainer("");
              setSearch("");
              setMessage(null);
            }}
          >
            {options.map((o) => (
              <option key={o.id} value={o.id}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        {option?.container ? (
          <label>
            {option.container === "project" ? "Project" : "Repository"}
            <input list="picker-containers" value={shownContainer} onChange={(e) => setContainer(e.target.value)} />
            <datalist id="picker-containers">
              {containers.map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          </label>
        ) : null}
        {searching ? (
          <label>
            {option.kind === "CHANGE_REQUEST" ? "Number or words" : "Search"}
            <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder={option.kind === "CHANGE_REQUEST" ? "CHG0030001 or title words" : "Name contains"} />
          </label>
        ) : (
          <label>
            Range (owner/repo@base...head)
            <input value={range} onChange={(e) => setRange(e.target.value)} placeholder={`${shownContainer || "owner/repo"}@v1.0.0...v1.1.0`} aria-invalid={rangeProblem ? true : undefined} />
          </label>
        )}
      </div>
      {option?.kind === "CODE_RANGE" ? (
        <>
          <p className="muted">Tags and branches cannot be listed from here yet; write the range, and it is checked when linked.</p>
          {rangeProblem ? <p className="field-error">{rangeProblem}</p> : null}
          <button type="button" className="primary" disabled={!range || !!rangeProblem || linking.fetching} onClick={() => doLink("CODE_RANGE", range.trim(), range.trim())}>
            Link this range
          </button>
        </>
      ) : null}
      {searching && !ready ? <p className="muted">{option.kind === "CHANGE_REQUEST" ? "Type a change number or words of its title." : "Choose where to search."}</p> : null}
      {ready ? <Degraded error={error} /> : null}
      {ready && fetching && !data ? <Skeleton rows={3} label="Searching upstream" /> : null}
      {ready && data ? (
        data.linkCandidates.length === 0 ? (
          <p className="muted">Nothing found{search ? ` for “${search}”` : ""}.</p>
        ) : (
          <ul className="plain candidates" aria-label="Found upstream">
            {data.linkCandidates.map((c) => {
              const linked = linkedKeys.includes(`${c.source}:${c.key}`);
              return (
                <li key={`${c.source}:${c.key}`} data-candidate={c.key}>
                  <button
                    type="button"
                    disabled={linked || linking.fetching}
                    onClick={() => doLink(option.kind, c.key, c.name)}
                    aria-label={linked ? `${c.name} is linked` : `Link ${c.name}`}
                  >
                    {linked ? "Linked" : "Link"}
                  </button>{" "}
                  <strong>{c.kind === "CHANGE_REQUEST" ? c.key : c.name}</strong>{" "}
                  {c.kind === "CHANGE_REQUEST" ? <span>{c.name}</span> : null}{" "}
                  <span className={c.closed ? "muted" : ""}>· {c.detail}</span>{" "}
                  <a href={c.url} target="_blank" rel="noreferrer" className="muted">
                    open<span className="sr-only"> {c.name} upstream</span>
                  </a>
                </li>
              );
            })}
          </ul>
        )
      ) : null}
      {message ? (
        <div className={`banner ${message.ok ? "banner-ok" : "banner-error"}`} role={message.ok ? "status" : "alert"}>
          {message.text}
        </div>
      ) : null}
    </div>
  );
}

/** A linked version's or milestone's name, looked up where the picker found it, so a
 * link reads "2026.12" rather than the tracker's numeric id. */
export function LinkName({ source, kind, externalKey, projects }: { source: string; kind: string; externalKey: string; projects: readonly string[] }) {
  const named = kind === "PLANNED_VERSION" && externalKey.includes(":") ? externalKey.split(":").slice(1).join(":") : null;
  const container = kind === "MILESTONE" ? externalKey.split("#")[0] : kind === "PLANNED_VERSION" ? (projects[0] ?? "") : "";
  const lookup = !named && container !== "" && (kind === "MILESTONE" || kind === "PLANNED_VERSION");
  const variables = useMemo(() => ({ source, kind: kind as LinkKind, container, search: null, first: 100 }), [source, kind, container]);
  const [{ data }] = useQuery({ query: LinkCandidatesQuery, variables, pause: !lookup });
  const found = data?.linkCandidates.find((c) => c.key === externalKey);
  const name = named ?? found?.name;
  return name ? (
    <>
      <strong>{name}</strong> <span className="muted">({externalKey})</span>
    </>
  ) : (
    <strong>{externalKey}</strong>
  );
}
