// GraphiQL bundled into our own assets: nothing is fetched from a CDN, so it works
// offline and behind a corporate proxy.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/setup-workers/vite";
import "graphiql/style.css";

const fetcher = createGraphiQLFetcher({ url: "/graphql", fetch: (input, init) => fetch(input, { ...init, credentials: "same-origin" }) });

const DEFAULT_QUERY = `# Ad hoc queries against the same graph the dashboard uses.
query Upcoming {
  releases(filter: { status: [PLANNED, IN_PROGRESS, READY] }, first: 5) {
    nodes { key name status windowStart readiness { ratio complete } }
  }
}
`;

export default function GraphiQLPage() {
  return (
    <div className="graphiql-host">
      <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} />
    </div>
  );
}
