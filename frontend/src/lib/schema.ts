// The server's schema as introspection, generated from schema.graphql at build
// time: the normalised cache needs it to resolve interfaces and unions offline.
import introspection from "../gql/introspection.json";

export const schema = introspection;
