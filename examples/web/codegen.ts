// graphql-codegen configuration: types for the operations in src/ from the
// LIVE schema of a running service (introspection at GRAPHQL_URL), so that
// the client is checked against what the server really serves.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: process.env.GRAPHQL_URL ?? "http://localhost:8080/query",
  documents: ["src/**/*.ts", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      config: {
        // Operations as typed strings: sent with fetch, no GraphQL client
        // library or graphql-js printer at run time.
        documentMode: "string",
        useTypeImports: true,
        enumsAsTypes: true,
      },
      presetConfig: {
        // No fragment masking: the example reads fields directly.
        fragmentMasking: false,
      },
    },
  },
};

export default config;
