// The change bridge's parts of the release page: gates, raising a change request
// and release notes. Their operations are plain strings, outside codegen, because
// the server may not publish these fields yet; each part shows itself only when
// schema.graphql has its field, so the build never depends on them.
import { useMemo, useState } from "react";
import { useMutation, useQuery } from "urql";
import { Degraded, Skeleton } from "../components/common";
import type { Gate } from "../lib/releases";
import { schemaHas } from "../lib/schema";
import { sourceLabel } from "../lib/sources";
import { formatDateTime } from "../lib/time";

export const hasGates = () => schemaHas("Release", "gates");
export const hasRaise = () => schemaHas("Mutation", "raiseChangeRequest");
export const hasNotes = () => schemaHas("Release", "releaseNotes");

const PREVIEW_FIELDS = ["changeRequestPreview", "previewChangeRequest", "composeChangeRequest"];
export const previewField = () => PREVIEW_FIELDS.find((f) => schemaHas("Query", f)) ?? null;

const GATES = `query ReleaseGates($key: String!) { release(key: $key) { id gates { name passed reason } } }`;

export function useGates(key: string): { gates: Gate[] | null; fetching: boolean } {
  const [{ data, fetching }] = useQuery<{ release: { gates: Gate[] } | null }>({
    query: GATES,
    variables: { key },
    pause: !hasGates(),
  });
  return { gates: data?.release?.gates ?? null, fetching };
}

export function GateList({ gates }: { gates: Gate[] }) {
  return (
    <ul className="gates" aria-label="Gates">
      {gates.map((g) => (
        <li key={g.name} className={g.passed ? "gate-pass" : "gate-fail"}>
          <span aria-hidden="true">{g.passed ? "✔" : "✖"}</span> <strong>{g.name.replace(/_/g, " ")}</strong>: {g.reason}
        </li>
      ))}
    </ul>
  );
}

interface Preview {
  title: string;
  description: string;
  type: string;
  risk: string;
  riskReasons: string[];
  plannedStart: string | null;
  plannedEnd: string | null;
  configurationItems: string[];
  backoutPlan: string;
  testEvidence: string;
}

const previewQuery = (field: string) => `query ChangePreview($releaseId: ID!, $source: String!) {
  preview: ${field}(releaseId: $releaseId, source: $source) {
    title description type risk riskReasons plannedStart plannedEnd configurationItems backoutPlan testEvidence
  }
}`;

const RAISE = `mutation RaiseChange($releaseId: ID!, $source: String!, $input: RaiseChangeRequestInput, $key: String!) {
  raiseChangeRequest(releaseId: $releaseId, source: $source, input: $input, idempotencyKey: $key) {
    ... on ChangeRequest { id number state stateLabel approval }
  }
}`;

export function RaiseChangeRequest({
  releaseId,
  itsmSources,
  onRaised,
}: {
  releaseId: string;
  itsmSources: readonly { name: string; kind: string }[];
  onRaised: () => void;
}) {
  const [source, setSource] = useState(itsmSources[0]?.name ?? "");
  // One key per dialog: a retried click after a lost answer creates the change once.
  const [key, setKey] = useState(() => crypto.randomUUID());
  const field = previewField();
  const [{ data, fetching, error }] = useQuery<{ preview: Preview }>({
    query: previewQuery(field ?? "none"),
    variables: { releaseId, source },
    pause: !field || !source,
  });
  const [raised, raise] = useMutation<{ raiseChangeRequest: { number: string; stateLabel: string } }>(RAISE);
  const [done, setDone] = useState<string | null>(null);

  const submit = async () => {
    const result = await raise({ releaseId, source, input: null, key });
    if (!result.error && result.data) {
      setDone(`${result.data.raiseChangeRequest.number} raised in ${sourceLabel(source)} (${result.data.raiseChangeRequest.stateLabel})`);
      setKey(crypto.randomUUID());
      onRaised();
    }
  };

  const preview = data?.preview;
  return (
    <div className="card raise" aria-labelledby="raise-title">
      <h3 id="raise-title">Raise change request</h3>
      <label className="inline">
        Target system
        <select value={source} onChange={(e) => setSource(e.target.value)}>
          {itsmSources.map((s) => (
            <option key={s.name} value={s.name}>
              {sourceLabel(s.name, s.kind)}
            </option>
          ))}
        </select>
      </label>
      {fetching && !preview ? <Skeleton rows={3} label="Composing the change request" /> : null}
      <Degraded error={error} />
      {preview ? (
        <dl className="preview" aria-label="Preview of the change request">
          <dt>Title</dt>
          <dd>{preview.title}</dd>
          <dt>Type / risk</dt>
          <dd>
            {preview.type} / {preview.risk}
            {preview.riskReasons?.length ? <span className="muted"> ({preview.riskReasons.join("; ")})</span> : null}
          </dd>
          <dt>Window</dt>
          <dd>
            {formatDateTime(preview.plannedStart)} → {formatDateTime(preview.plannedEnd)}
          </dd>
          <dt>Configuration items</dt>
          <dd>{preview.configurationItems?.join(", ") || "—"}</dd>
          <dt>Description</dt>
          <dd className="pre">{preview.description}</dd>
          <dt>Backout plan</dt>
          <dd className="pre">{preview.backoutPlan}</dd>
        </dl>
      ) : null}
      <Degraded error={raised.error} />
      {done ? (
        <div className="banner banner-ok" role="status">
          {done}
        </div>
      ) : null}
      <button type="button" className="primary" onClick={submit} disabled={raised.fetching || !source} aria-busy={raised.fetching}>
        {raised.fetching ? `Raising in ${sourceLabel(source)}…` : `Raise in ${sourceLabel(source)}`}
      </button>
    </div>
  );
}

const NOTES = `query ReleaseNotes($key: String!, $audience: NotesAudience!) {
  release(key: $key) { id releaseNotes(audience: $audience, format: MARKDOWN) }
}`;

export function ReleaseNotes({ releaseKey }: { releaseKey: string }) {
  const [audience, setAudience] = useState<"DEVELOPMENT" | "OPERATIONS">("DEVELOPMENT");
  const variables = useMemo(() => ({ key: releaseKey, audience }), [releaseKey, audience]);
  const [{ data, fetching, error }] = useQuery<{ release: { releaseNotes: string } | null }>({ query: NOTES, variables });
  return (
    <div>
      <div role="tablist" aria-label="Release notes audience" className="tabs">
        {(["DEVELOPMENT", "OPERATIONS"] as const).map((a) => (
          <button key={a} role="tab" type="button" aria-selected={audience === a} onClick={() => setAudience(a)}>
            {a === "DEVELOPMENT" ? "Development" : "Operations"}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        <Degraded error={error} />
        {fetching && !data ? <Skeleton rows={4} label="Writing release notes" /> : <pre className="notes">{data?.release?.releaseNotes}</pre>}
      </div>
    </div>
  );
}
