import { mapExchange, type CombinedError, type Exchange } from "@urql/core";

/**
 * Keeps a query's partial-result errors (a source down, a broken link) with its data.
 *
 * graphcache answers a query again from its cache whenever another operation writes what
 * the query read, and such an answer carries no errors: a page's "source unavailable"
 * banner would vanish as soon as a neighbouring panel loaded. The inner exchange (after
 * the cache) sees network answers only and keeps each query's last errors; the outer one
 * (before the cache) gives them back to a cached answer of the same query, until the next
 * network answer says otherwise or the query is torn down.
 */
export function stickyErrorExchanges(): { outer: Exchange; inner: Exchange } {
  const last = new Map<number, CombinedError>();
  const inner = mapExchange({
    onResult(result) {
      if (result.operation.kind === "query") {
        if (result.error) last.set(result.operation.key, result.error);
        else last.delete(result.operation.key);
      }
      return result;
    },
  });
  const outer = mapExchange({
    onOperation(operation) {
      if (operation.kind === "teardown") last.delete(operation.key);
      return operation;
    },
    onResult(result) {
      const kept = result.operation.kind === "query" && !result.error ? last.get(result.operation.key) : undefined;
      return kept ? { ...result, error: kept } : result;
    },
  });
  return { outer, inner };
}
