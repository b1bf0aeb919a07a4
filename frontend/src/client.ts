// One GraphQL client for the whole dashboard. The normalised cache means a release
// moved on its page is already moved on the calendar and the list.
import { cacheExchange } from "@urql/exchange-graphcache";
import { createClient as createSocket } from "graphql-ws";
import { Client, fetchExchange, subscriptionExchange } from "urql";
import type { IntrospectionQuery } from "graphql";
import { liveState, socketUrl } from "./lib/live";
import { schema } from "./lib/schema";
import { stickyErrorExchanges } from "./lib/stickyErrors";

// The socket's state, for pages that poll only while it is down.
export const live = liveState();

// Values without an id of their own live inside their parent's cache entry.
const embedded = () => null;

export function createClient(url = "/graphql"): Client {
  // Subscriptions over graphql-transport-ws on the page's own host: the session
  // cookie authenticates it. Connects at the first subscription, retries for ever.
  const socket = createSocket({
    url: socketUrl(window.location, url),
    retryAttempts: Infinity,
    shouldRetry: () => true,
    on: { connecting: live.connecting, connected: live.connected, closed: live.closed },
  });
  const sticky = stickyErrorExchanges();
  return new Client({
    url,
    preferGetMethod: false,
    requestPolicy: "cache-and-network",
    fetchOptions: { credentials: "same-origin", headers: { accept: "application/json" } },
    exchanges: [
      sticky.outer,
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
          ReleaseEvent: embedded,
          Conflict: embedded,
        },
      }),
      sticky.inner,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: socket.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
    ],
  });
}
