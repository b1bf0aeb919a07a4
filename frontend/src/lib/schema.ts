// What the server's schema offers, read from the introspection generated from
// schema.graphql at build time: parts of the dashboard whose server side has not
// landed yet stay hidden instead of failing.
import introspection from "../gql/introspection.json";

interface IntrospectedType {
  name: string;
  fields?: readonly { name: string }[] | null;
}

const types = (introspection as unknown as { __schema: { types: IntrospectedType[] } }).__schema.types;

export function schemaHas(typeName: string, field: string): boolean {
  const type = types.find((t) => t.name === typeName);
  return Boolean(type?.fields?.some((f) => f.name === field));
}

export const schema = introspection;
