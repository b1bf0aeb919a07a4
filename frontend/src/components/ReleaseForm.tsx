// Create or edit a release: key, name, type, parent, applications, window. The window
// is entered in the reader's time zone and stored as the instant it means.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { CreateReleaseMutation, PlanningContextQuery, UpdateReleaseMutation } from "../operations";
import type { ReleaseType } from "../gql/graphql";
import { displayZone, fromInputValue, toInputValue } from "../lib/time";
import { releaseTypeWord } from "../lib/words";
import { errorText } from "../lib/errors";

const TYPES: ReleaseType[] = ["PROJECT", "ENTERPRISE", "EMERGENCY"];

export interface EditableRelease {
  id: string;
  key: string;
  name: string;
  description: string;
  type: ReleaseType;
  windowStart?: string | null;
  windowEnd?: string | null;
  version: number;
  parent?: { id: string } | null;
  applications: readonly { key: string }[];
}

export function ReleaseForm({
  release,
  onDone,
  onCancel,
}: {
  release?: EditableRelease;
  onDone: (key: string) => void;
  onCancel: () => void;
}) {
  const [{ data }] = useQuery({ query: PlanningContextQuery });
  const [created, create] = useMutation(CreateReleaseMutation);
  const [updated, update] = useMutation(UpdateReleaseMutation);
  const [key, setKey] = useState(release?.key ?? "");
  const [name, setName] = useState(release?.name ?? "");
  const [description, setDescription] = useState(release?.description ?? "");
  const [type, setType] = useState<ReleaseType>(release?.type ?? "PROJECT");
  const [parentId, setParentId] = useState(release?.parent?.id ?? "");
  const [apps, setApps] = useState<string[]>(release?.applications.map((a) => a.key) ?? []);
  const [start, setStart] = useState(toInputValue(release?.windowStart));
  const [end, setEnd] = useState(toInputValue(release?.windowEnd));
  const [error, setError] = useState<string | null>(null);
  const busy = created.fetching || updated.fetching;
  const zone = displayZone();

  const toggleApp = (appKey: string, on: boolean) =>
    setApps((current) => (on ? [...current, appKey] : current.filter((k) => k !== appKey)));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const windowStart = start ? fromInputValue(start) : null;
    const windowEnd = end ? fromInputValue(end) : null;
    if ((windowStart === null) !== (windowEnd === null)) {
      setError("Give both the start and the end of the window, or neither.");
      return;
    }
    if (windowStart && windowEnd && windowEnd <= windowStart) {
      setError("The window must end after it starts.");
      return;
    }
    const fields = {
      key: key.trim(),
      name: name.trim(),
      type,
      description,
      parentId: parentId || null,
      windowStart,
      windowEnd,
      applicationKeys: apps,
    };
    const result = release
      ? await update({ id: release.id, input: fields, expectedVersion: release.version })
      : await create({ input: fields });
    if (result.error) {
      setError(errorText(result.error));
      return;
    }
    onDone(fields.key);
  };

  const parents = (data?.releases.nodes ?? []).filter((r) => r.id !== release?.id);

  return (
    <form className="card form" onSubmit={submit} aria-labelledby="release-form-title">
      <h2 id="release-form-title">{release ? `Edit ${release.key}` : "New release"}</h2>
      <div className="form-grid">
        <label>
          Key
          <input value={key} onChange={(e) => setKey(e.target.value)} required placeholder="PAY-2027.01" />
        </label>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Type
          <select value={type} onChange={(e) => setType(e.target.value as ReleaseType)}>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {releaseTypeWord(t)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Part of
          <select value={parentId} onChange={(e) => setParentId(e.target.value)}>
            <option value="">No parent release</option>
            {parents.map((r) => (
              <option key={r.id} value={r.id}>
                {r.key} · {r.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Window start ({zone})
          <input type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} />
        </label>
        <label>
          Window end ({zone})
          <input type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} />
        </label>
      </div>
      <label>
        Description
        <textarea value={description} onChange={(e) => setDescription(e.target.value)} rows={2} />
      </label>
      <fieldset className="checks">
        <legend>Applications</legend>
        {(data?.applications ?? []).map((a) => (
          <label key={a.id} className="inline">
            <input type="checkbox" checked={apps.includes(a.key)} onChange={(e) => toggleApp(a.key, e.target.checked)} />
            {a.name}
          </label>
        ))}
      </fieldset>
      {error ? (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      ) : null}
      <div className="button-row">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : release ? "Save changes" : "Create release"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
