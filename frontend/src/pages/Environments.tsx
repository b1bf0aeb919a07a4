import { useQuery } from "urql";
import { Badge, Degraded, Empty, PageHeader, Skeleton } from "../components/common";
import { formatDateTime } from "../lib/time";
import { EnvironmentsQuery } from "../operations";

const TIER_ORDER = ["DEV", "TEST", "STAGING", "PRODUCTION"];

export default function EnvironmentsPage() {
  const [{ data, fetching, error }] = useQuery({ query: EnvironmentsQuery });
  const environments = [...(data?.environments ?? [])].sort((a, b) => TIER_ORDER.indexOf(a.tier) - TIER_ORDER.indexOf(b.tier));
  return (
    <section>
      <PageHeader title="Environments" />
      <Degraded error={error} />
      {!data && fetching ? (
        <Skeleton rows={6} label="Loading environments" />
      ) : environments.length === 0 ? (
        <Empty title="No environment is configured." />
      ) : (
        <div className="env-grid">
          {environments.map((env) => (
            <section key={env.id} className="card" aria-labelledby={`env-${env.id}`}>
              <h2 id={`env-${env.id}`}>
                {env.name} <Badge>{env.tier.toLowerCase()}</Badge>
              </h2>
              <p className="muted">
                {env.deployTarget || "no deploy target"} · {env.applications.length} applications
              </p>
              {env.deployedVersions.length === 0 ? (
                <Empty title="Nothing deployed here yet." />
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
                          </a>{" "}
                          <span className="muted">{v.deployment.sha.slice(0, 7)}</span>
                        </td>
                        <td className="nowrap">{formatDateTime(v.deployment.updatedAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          ))}
        </div>
      )}
    </section>
  );
}
