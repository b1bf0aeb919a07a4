import type { CodegenConfig } from "@graphql-codegen/cli";

// Operations are typed from the server's published schema, so a schema change
// that breaks the dashboard fails `npm run build` rather than a user's click.
const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: true,
  generates: {
    "src/gql/": {
      preset: "client",
      // persistedDocuments also writes src/gql/persisted-documents.json (sha256 -> document):
      // the dashboard's operations, for `heatshield persisted register` (allow-list mode).
      presetConfig: { fragmentMasking: false, persistedDocuments: true },
      config: {
        scalars: { DateTime: "string", JSON: "unknown" },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
    "src/gql/introspection.json": {
      plugins: ["introspection"],
      config: { minify: true, descriptions: false },
    },
  },
};

export default config;
