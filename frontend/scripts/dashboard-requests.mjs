// The document text the dashboard's client puts on the wire for each of its operations.
//
//   node scripts/dashboard-requests.mjs src/gql/persisted-documents.json
//
// urql's normalised cache (graphcache) adds __typename to every selection set
// (formatDocument) and urql prints the document (stringifyDocument) before sending
// it; this prints those texts as a JSON list, so the server's tests can check that
// allow-list mode admits what the unchanged dashboard sends.
import { readFileSync } from "node:fs";
import { formatDocument, stringifyDocument } from "@urql/core";
import { parse } from "graphql";

const path = process.argv[2];
if (!path) {
  console.error("usage: node scripts/dashboard-requests.mjs <persisted-documents.json>");
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(path, "utf-8"));
const sent = Object.values(manifest).map((document) =>
  stringifyDocument(formatDocument(parse(document))));
console.log(JSON.stringify(sent));
