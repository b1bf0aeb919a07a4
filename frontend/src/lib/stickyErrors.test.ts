import { Client, fetchExchange, type Exchange, type OperationResult } from "@urql/core";
import { cacheExchange } from "@urql/exchange-graphcache";
import { parse } from "graphql";
import { describe, expect, it } from "vitest";
import { stickyErrorExchanges } from "./stickyErrors";

// A toy schema's documents (parsed, not tagged: they are not the dashboard's operations).
const PAGE = parse(`query Page { release(key: "R-1") { id name readiness } }`);
const RENAME = parse(`query Panel { release(key: "R-1") { id name } }`);
const DOWN = { message: "tracker: down", path: ["release", "readiness"], extensions: { code: "UPSTREAM_UNAVAILABLE", source: "tracker" } };

/** A server that answers the page with a partial error, and a neighbouring panel with the
 * same release under a new name (a write to the cache entry the page reads). */
async function serve(_url: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const body = JSON.parse(String(init?.body)) as { query: string };
  const answer = body.query.includes("query Page")
    ? { data: { release: { __typename: "Release", id: "1", name: "one", readiness: 0.5 } }, errors: [DOWN] }
    : { data: { release: { __typename: "Release", id: "1", name: "renamed" } } };
  return new Response(JSON.stringify(answer), { headers: { "content-type": "application/json" } });
}

async function pageAfterPanel(exchanges: Exchange[]): Promise<OperationResult[]> {
  const client = new Client({ url: "http://hub/graphql", exchanges, fetch: serve, preferGetMethod: false, requestPolicy: "cache-and-network" });
  const seen: OperationResult[] = [];
  const page = client.query(PAGE, {}).subscribe((result) => seen.push(result));
  await new Promise((resolve) => setTimeout(resolve, 20));
  await client.query(RENAME, {}, { requestPolicy: "network-only" }).toPromise();
  await new Promise((resolve) => setTimeout(resolve, 20));
  page.unsubscribe();
  return seen;
}

describe("partial-result errors stay with the data they describe", () => {
  it("keeps a query's errors when the cache answers it again after another query's write", async () => {
    const sticky = stickyErrorExchanges();
    const seen = await pageAfterPanel([sticky.outer, cacheExchange({}), sticky.inner, fetchExchange]);
    const last = seen[seen.length - 1];
    expect(last.data?.release.name).toBe("renamed");
    expect(last.error?.graphQLErrors.map((e) => e.extensions.source)).toEqual(["tracker"]);
  });

  it("is needed: the cache alone answers again without them", async () => {
    const seen = await pageAfterPanel([cacheExchange({}), fetchExchange]);
    const last = seen[seen.length - 1];
    expect(last.data?.release.name).toBe("renamed");
    expect(last.error).toBeUndefined();
  });
});
