// Environments and blackout windows: what runs where (drift across tiers), and the
// forms to create, edit and delete both.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { EnvironmentBookings } from "../components/Bookings";
import { Badge, Degraded, Empty, PageHeader, RoleNote, Skeleton, When, Window } from "../components/common";
import { usePlanningRefusal } from "../components/session";
import { drift, orderEnvironments } from "../lib/drift";
import { errorText } from "../lib/errors";
import { displayZone, fromInputValue, toInputValue } from "../lib/time";
import { tierWord } from "../lib/words";
import {
  CreateBlackoutMutation,
  CreateEnvironmentMutation,
  DeleteBlackoutMutation,
  DeleteEnvironmentMutation,
  EnvironmentsAdminQuery,
  UpdateBlackoutMutation,
  UpdateEnvironmentMutation,
} from "../operations";
import type { EnvironmentTier, EnvironmentsAdminQuery as Data } from "../gql/graphql";

const TIERS: EnvironmentTier[] = ["DEV", "TEST", "STAGING", "PRODUCTION"];
type Env = Data["environments"][number];
type Blackout = Data["blackoutWindows"][number];
type App = Data["applications"][number];

export default function EnvironmentsPage() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: EnvironmentsAdminQuery });
  const refusedByRole = usePlanningRefusal();
  const [editingEnv, setEditingEnv] = useState<Env | "new" | null>(null);
  const [editingBlackout, setEditingBlackout] = useState<Blackout | "new" | null>(null);
  const reload = () => refetch({ requestPolicy: "network-only" });
  const environments = orderEnvironments(data?.environments ?? []);
  const apps = data?.applications ?? [];
  const matrix = drift(environments);

  return (
    <section>
      <PageHeader title="Environments">
        <button type="button" className="primary" disabled={!!refusedByRole} title={refusedByRole ?? undefined} onClick={() => setEditingEnv("new")}>
          New environment
        </button>
        <button type="button" disabled={!!refusedByRole} title={refusedByRole ?? undefined} onClick={() => setEditingBlackout("new")}>
          New blackout window
        </button>
      </PageHeader>
      <RoleNote refusal={refusedByRole} />
      <Degraded error={error} />
      {editingEnv ? (
        <EnvironmentForm
          environment={editingEnv === "new" ? null : editingEnv}
          apps={apps}
          onDone={() => {
            setEditingEnv(null);
            reload();
          }}
          onCancel={() => setEditingEnv(null)}
        />
      ) : null}
      {editingBlackout ? (
        <BlackoutForm
          blackout={editingBlackout === "new" ? null : editingBlackout}
          apps={apps}
          onDone={() => {
            setEditingBlackout(null);
            reload();
          }}
          onCancel={() => setEditingBlackout(null)}
        />
      ) : null}
      {!data && fetching ? (
        <Skeleton rows={6} label="Loading environments" />
      ) : (
        <>
          <section className="card" aria-labelledby="drift-title">
            <h2 id="drift-title">What runs where</h2>
            {matrix.rows.length === 0 ? (
              <Empty title="Nothing deployed in any environment yet." />
            ) : (
              <table className="table compact drift">
                <thead>
                  <tr>
                    <th scope="col">Application</th>
                    {matrix.environments.map((e) => (
                      <th scope="col" key={e.id}>
                        {e.name}
                      </th>
                    ))}
                    <th scope="col">Drift</th>
                  </tr>
                </thead>
                <tbody>
                  {matrix.rows.map((row) => (
                    <tr key={row.application} data-app={row.application} className={row.differs ? "drifted" : ""}>
                      <th scope="row">{row.application}</th>
                      {row.cells.map((cell, i) => (
                        <td key={matrix.environments[i].id} className={row.behind[i] ? "differs" : ""} data-env={matrix.environments[i].name}>
                          {cell ? (
                            <>
                              <a href={cell.url} target="_blank" rel="noreferrer">
                                {cell.ref}
                              </a>{" "}
                              <span className="muted">{cell.sha.slice(0, 7)}</span>
                              {row.behind[i] ? <span className="sr-only"> (differs)</span> : null}
                            </>
                          ) : (
                            <span className="muted">not deployed</span>
                          )}
                        </td>
                      ))}
                      <td>{row.differs ? <Badge tone="warn">Tiers differ</Badge> : <Badge tone="ok">Same everywhere</Badge>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>

          <section className="card" aria-labelledby="blackouts-title">
            <h2 id="blackouts-title">Blackout windows</h2>
            {(data?.blackoutWindows ?? []).length === 0 ? (
              <Empty title="No blackout window." />
            ) : (
              <BlackoutTable blackouts={data?.blackoutWindows ?? []} refusal={refusedByRole} onEdit={setEditingBlackout} onChanged={reload} />
            )}
          </section>

          {environments.length === 0 ? (
            <Empty title="No environment is configured." />
          ) : (
            <div className="env-grid">
              {environments.map((env) => (
                <EnvironmentCard key={env.id} env={env} refusal={refusedByRole} onEdit={() => setEditingEnv(env)} onChanged={reload} />
              ))}
            </div>
          )}
        </>
      )}
    </section>
  );
}

function EnvironmentCard({ env, refusal, onEdit, onChanged }: { env: Env; refusal: string | null; onEdit: () => void; onChanged: () => void }) {
  const [removing, remove] = useMutation(DeleteEnvironmentMutation);
  const [confirm, setConfirm] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <section className="card" aria-labelledby={`env-${env.id}`} data-environment={env.name}>
      <h2 id={`env-${env.id}`}>
        {env.name}{" "}
        {/* The tier only when the name does not already say it ("Staging Staging"). */}
        {env.name.toLowerCase() === tierWord(env.tier).toLowerCase() ? null : <Badge>{tierWord(env.tier)}</Badge>}
      </h2>
      <p className="muted">
        {env.deployTarget ? `Deploys to “${env.deployTarget}”` : "No deploy target"} · {env.applications.map((a) => a.name).join(", ") || "no applications"}
      </p>
      {env.description ? <p>{env.description}</p> : null}
      {env.deployedVersions.length === 0 ? (
        <p className="muted">Nothing deployed here yet.</p>
      ) : (
        <table className="table compact">
          <thead>
            <tr>
              <th scope="col">Application</th>
              <th scope="col">Version</th>
              <th scope="col">Deployed</th>
            </tr>
          </thead>
          <tbody>
            {env.deployedVersions.map((v) => (
              <tr key={v.deployment.id}>
                <td>{v.application ?? v.deployment.repository}</td>
                <td>
                  <a href={v.deployment.url} target="_blank" rel="noreferrer">
                    {v.deployment.ref}
                  </a>
                </td>
                <td>
                  <When iso={v.deployment.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="button-row">
        <button type="button" onClick={onEdit} disabled={!!refusal} title={refusal ?? undefined}>
          Edit<span className="sr-only"> {env.name}</span>
        </button>
        {confirm ? (
          <button
            type="button"
            className="danger"
            disabled={removing.fetching}
            onClick={async () => {
              const result = await remove({ id: env.id });
              if (result.error) setProblem(errorText(result.error));
              else onChanged();
            }}
          >
            Delete {env.name} for good
          </button>
        ) : (
          <button type="button" className="danger" onClick={() => setConfirm(true)} disabled={!!refusal} title={refusal ?? undefined}>
            Delete<span className="sr-only"> {env.name}</span>
          </button>
        )}
      </div>
      {problem ? (
        <div className="banner banner-error" role="alert">
          {problem}
        </div>
      ) : null}
      <EnvironmentBookings environment={env} />
    </section>
  );
}

function BlackoutTable({ blackouts, refusal, onEdit, onChanged }: { blackouts: readonly Blackout[]; refusal: string | null; onEdit: (b: Blackout) => void; onChanged: () => void }) {
  const [removing, remove] = useMutation(DeleteBlackoutMutation);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <>
      <table className="table compact">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Window</th>
            <th scope="col">Tiers</th>
            <th scope="col">Applications</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {blackouts.map((b) => (
            <tr key={b.id} data-blackout={b.name}>
              <td>
                <strong>{b.name}</strong>
                {b.reason ? <div className="muted">{b.reason}</div> : null}
              </td>
              <td>
                <Window start={b.start} end={b.end} />
              </td>
              <td>{b.tiers.length ? b.tiers.map(tierWord).join(", ") : "Every tier"}</td>
              <td>{b.applications.length ? b.applications.map((a) => a.name).join(", ") : "Every application"}</td>
              <td className="nowrap">
                <button type="button" onClick={() => onEdit(b)} disabled={!!refusal} title={refusal ?? undefined}>
                  Edit<span className="sr-only"> {b.name}</span>
                </button>{" "}
                <button
                  type="button"
                  className="danger"
                  disabled={!!refusal || removing.fetching}
                  title={refusal ?? undefined}
                  onClick={async () => {
                    if (!window.confirm(`Delete the blackout window “${b.name}”?`)) return;
                    const result = await remove({ id: b.id });
                    if (result.error) setProblem(errorText(result.error));
                    else onChanged();
                  }}
                >
                  Delete<span className="sr-only"> {b.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {problem ? (
        <div className="banner banner-error" role="alert">
          {problem}
        </div>
      ) : null}
    </>
  );
}

function AppChecks({ apps, chosen, onChange, legend }: { apps: readonly App[]; chosen: string[]; onChange: (keys: string[]) => void; legend: string }) {
  return (
    <fieldset className="checks">
      <legend>{legend}</legend>
      {apps.map((a) => (
        <label key={a.id} className="inline">
          <input
            type="checkbox"
            checked={chosen.includes(a.key)}
            onChange={(e) => onChange(e.target.checked ? [...chosen, a.key] : chosen.filter((k) => k !== a.key))}
          />
          {a.name}
        </label>
      ))}
    </fieldset>
  );
}

function EnvironmentForm({ environment, apps, onDone, onCancel }: { environment: Env | null; apps: readonly App[]; onDone: () => void; onCancel: () => void }) {
  const [created, create] = useMutation(CreateEnvironmentMutation);
  const [updated, update] = useMutation(UpdateEnvironmentMutation);
  const [name, setName] = useState(environment?.name ?? "");
  const [tier, setTier] = useState<EnvironmentTier>(environment?.tier ?? "TEST");
  const [target, setTarget] = useState(environment?.deployTarget ?? "");
  const [description, setDescription] = useState(environment?.description ?? "");
  const [chosen, setChosen] = useState<string[]>(environment?.applications.map((a) => a.key) ?? apps.map((a) => a.key));
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const input = { name: name.trim(), tier, deployTarget: target.trim(), description, applicationKeys: chosen };
    const result = environment ? await update({ id: environment.id, input }) : await create({ input });
    if (result.error) setProblem(errorText(result.error));
    else onDone();
  };
  return (
    <form className="card form" onSubmit={submit} aria-labelledby="env-form-title">
      <h2 id="env-form-title">{environment ? `Edit ${environment.name}` : "New environment"}</h2>
      <div className="form-grid">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Tier
          <select value={tier} onChange={(e) => setTier(e.target.value as EnvironmentTier)}>
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {tierWord(t)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Deploy target (the environment name deployments report)
          <input value={target} onChange={(e) => setTarget(e.target.value)} />
        </label>
      </div>
      <label>
        Description
        <textarea value={description} onChange={(e) => setDescription(e.target.value)} rows={2} />
      </label>
      <AppChecks apps={apps} chosen={chosen} onChange={setChosen} legend="Applications it hosts" />
      {problem ? (
        <div className="banner banner-error" role="alert">
          {problem}
        </div>
      ) : null}
      <div className="button-row">
        <button type="submit" className="primary" disabled={created.fetching || updated.fetching}>
          {environment ? "Save environment" : "Create environment"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function BlackoutForm({ blackout, apps, onDone, onCancel }: { blackout: Blackout | null; apps: readonly App[]; onDone: () => void; onCancel: () => void }) {
  const [created, create] = useMutation(CreateBlackoutMutation);
  const [updated, update] = useMutation(UpdateBlackoutMutation);
  const [name, setName] = useState(blackout?.name ?? "");
  const [start, setStart] = useState(toInputValue(blackout?.start));
  const [end, setEnd] = useState(toInputValue(blackout?.end));
  const [reason, setReason] = useState(blackout?.reason ?? "");
  const [tiers, setTiers] = useState<EnvironmentTier[]>(blackout?.tiers ?? ["PRODUCTION"]);
  const [chosen, setChosen] = useState<string[]>(blackout?.applications.map((a) => a.key) ?? []);
  const [problem, setProblem] = useState<string | null>(null);
  const zone = displayZone();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const from = fromInputValue(start);
    const to = fromInputValue(end);
    if (!from || !to) return setProblem("Give the start and the end of the blackout.");
    if (to <= from) return setProblem("The blackout must end after it starts.");
    const input = { name: name.trim(), start: from, end: to, reason, tiers, applicationKeys: chosen };
    const result = blackout ? await update({ id: blackout.id, input }) : await create({ input });
    if (result.error) setProblem(errorText(result.error));
    else onDone();
  };
  return (
    <form className="card form" onSubmit={submit} aria-labelledby="blackout-form-title">
      <h2 id="blackout-form-title">{blackout ? `Edit ${blackout.name}` : "New blackout window"}</h2>
      <div className="form-grid">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Starts ({zone})
          <input type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} required />
        </label>
        <label>
          Ends ({zone})
          <input type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} required />
        </label>
      </div>
      <label>
        Reason
        <input value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      <fieldset className="checks">
        <legend>Tiers it covers (none chosen: every tier)</legend>
        {TIERS.map((t) => (
          <label key={t} className="inline">
            <input type="checkbox" checked={tiers.includes(t)} onChange={(e) => setTiers(e.target.checked ? [...tiers, t] : tiers.filter((x) => x !== t))} />
            {tierWord(t)}
          </label>
        ))}
      </fieldset>
      <AppChecks apps={apps} chosen={chosen} onChange={setChosen} legend="Applications it covers (none chosen: every application)" />
      {problem ? (
        <div className="banner banner-error" role="alert">
          {problem}
        </div>
      ) : null}
      <div className="button-row">
        <button type="submit" className="primary" disabled={created.fetching || updated.fetching}>
          {blackout ? "Save blackout window" : "Create blackout window"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
