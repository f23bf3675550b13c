// What main.ts and live.ts share: the service's URL, and a typed query sent
// with plain fetch.
import type { TypedDocumentString } from "./gql/graphql.js";

/** url is the service's GraphQL endpoint (GRAPHQL_URL). */
export const url = process.env.GRAPHQL_URL ?? "http://localhost:8080/query";

/** A GraphQL error as the service presents it. */
export interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

/**
 * ResponseError is an answer with GraphQL errors or without data, so that a
 * caller can tell a refusal it expects (an unknown stage) by its codes.
 */
export class ResponseError extends Error {
  constructor(
    readonly status: number,
    readonly errors: GraphQLError[],
  ) {
    const text = errors.map((e) => `${e.extensions?.code ?? "?"}: ${e.message}`).join("; ");
    super(`HTTP ${status}: ${text || "no data"}`);
    this.name = "ResponseError";
  }

  /** codes are the errors' extensions.code, in order ("?" for none). */
  get codes(): string[] {
    return this.errors.map((e) => e.extensions?.code ?? "?");
  }
}

/**
 * execute POSTs one typed operation and returns its data, typed by codegen.
 * Operations without variables take no second argument; the others must get
 * exactly their variables.
 */
export async function execute<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
    },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await response.json()) as { data?: TResult | null; errors?: GraphQLError[] };
  if (!response.ok || body.errors?.length || body.data == null) {
    throw new ResponseError(response.status, body.errors ?? []);
  }
  return body.data;
}

/** check throws with message unless condition holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
