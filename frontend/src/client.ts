// One GraphQL client for the whole dashboard. The normalised cache means a release
// moved on its page is already moved on the calendar and the list.
import { cacheExchange } from "@urql/exchange-graphcache";
import { Client, fetchExchange } from "urql";
import type { IntrospectionQuery } from "graphql";
import { schema } from "./lib/schema";

// Values without an id of their own live inside their parent's cache entry.
const embedded = () => null;

export function createClient(url = "/graphql"): Client {
  return new Client({
    url,
    preferGetMethod: false,
    requestPolicy: "cache-and-network",
    fetchOptions: { credentials: "same-origin", headers: { accept: "application/json" } },
    exchanges: [
      cacheExchange({
        schema: schema as unknown as IntrospectionQuery,
        keys: {
          Source: (data) => String(data.name),
          Readiness: embedded,
          SourceReadiness: embedded,
          PageInfo: embedded,
          ReleaseConnection: embedded,
          ReleaseEdge: embedded,
          ChangeRequestConnection: embedded,
          ChangeRequestEdge: embedded,
          WorkItemConnection: embedded,
          WorkItemEdge: embedded,
          DeployedVersion: embedded,
          GateResult: embedded,
          ChangePreview: embedded,
          RaiseChangePayload: embedded,
          Viewer: embedded,
          LinkCandidate: embedded,
          DeletePayload: embedded,
        },
      }),
      fetchExchange,
    ],
  });
}
