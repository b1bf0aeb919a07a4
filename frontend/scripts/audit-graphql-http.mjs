// The GraphQL-over-HTTP community audit (graphql-http's auditServer) against a running hub.
//
//   node scripts/audit-graphql-http.mjs http://127.0.0.1:8000/graphql
//
// The hub refuses anonymous callers, so an API token in HEATSHIELD_AUDIT_TOKEN is sent
// as `Authorization: Bearer` on every audit request. Prints one JSON object:
// {"counts": {"ok": n, "notice": n, "warn": n, "error": n}, "results": [...]},
// each result with its id, name, status and, for a failure, the reason and the status
// code the hub answered. Exits 1 when any audit is not ok, 2 on bad usage.
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node scripts/audit-graphql-http.mjs <graphql endpoint URL>");
  process.exit(2);
}
const token = process.env.HEATSHIELD_AUDIT_TOKEN;

function withToken(input, init = {}) {
  const headers = new Headers(init.headers ?? {});
  if (token) headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: withToken });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
const report = [];
for (const result of results) {
  counts[result.status] += 1;
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    entry.reason = result.reason;
    entry.httpStatus = result.response.status;
    entry.contentType = result.response.headers.get("content-type");
  }
  report.push(entry);
}
console.log(JSON.stringify({ counts, results: report }, null, 2));
process.exit(counts.ok === results.length ? 0 : 1);
