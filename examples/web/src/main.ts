// Runs each operation of operations.ts against the service at GRAPHQL_URL
// (default http://localhost:8080/query, the demo data) with plain fetch, and
// checks the typed results at run time. Exits non-zero on the first failure.
import type { TypedDocumentString } from "./gql/graphql.js";
import {
  DefaultTypeDocument,
  FieldLookupDocument,
  OpportunityTypesDocument,
  PipelineDocument,
} from "./operations.js";

const url = process.env.GRAPHQL_URL ?? "http://localhost:8080/query";

/** A GraphQL error as the service presents it. */
interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

/**
 * execute POSTs one typed operation and returns its data, typed by codegen.
 * Operations without variables take no second argument; the others must get
 * exactly their variables.
 */
async function execute<TResult, TVariables>(
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
    const errors = (body.errors ?? []).map((e) => `${e.extensions?.code ?? "?"}: ${e.message}`);
    throw new Error(`HTTP ${response.status}: ${errors.join("; ") || "no data"}`);
  }
  return body.data;
}

/** check throws with message unless condition holds. */
function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

async function main(): Promise<void> {
  // 1. The dropdown: every type, ids are integers, exactly one default.
  const { opportunityTypes } = await execute(OpportunityTypesDocument);
  check(opportunityTypes.length > 0, "opportunityTypes is empty");
  for (const t of opportunityTypes) {
    check(isInt(t.typeId), `typeId ${JSON.stringify(t.typeId)} is not an integer`);
    check(t.typeName.length > 0, `type ${t.typeId} has no name`);
  }
  const defaults = opportunityTypes.filter((t) => t.defaultType);
  check(defaults.length === 1, `want one default type, got ${defaults.length}`);
  console.log(`ok  OpportunityTypes: ${opportunityTypes.map((t) => `${t.typeId} ${t.typeName}`).join(", ")}`);

  // 2. The pipeline of every type: depth and path agree, win rates are percents.
  for (const { typeId } of opportunityTypes) {
    const { opportunityType } = await execute(PipelineDocument, { typeId });
    check(opportunityType !== null, `opportunityType(typeId: ${typeId}) is null`);
    check(opportunityType.typeId === typeId, `asked for ${typeId}, got ${opportunityType.typeId}`);
    check(opportunityType.allStages.length > 0, `type ${typeId} has no stages`);
    for (const s of opportunityType.allStages) {
      check(isInt(s.id) && isInt(s.depth), `stage ${s.name}: id or depth not an integer`);
      check(s.path.length === s.depth + 1, `stage ${s.name}: path has ${s.path.length} stages at depth ${s.depth}`);
      check(s.path.at(-1)?.name === s.name, `stage ${s.name}: path does not end at the stage`);
      check(s.possibility >= 0 && s.possibility <= 100, `stage ${s.name}: possibility ${s.possibility}%`);
      for (const r of s.requiredOppTypeFields) {
        check(r.field === null || r.field.id === r.id, `stage ${s.name}: required field ${r.id} resolves to ${r.field?.id}`);
      }
    }
    const deepest = opportunityType.allStages.reduce((a, b) => (b.depth > a.depth ? b : a));
    console.log(
      `ok  Pipeline(${typeId}): ${opportunityType.allStages.length} stages, deepest ${deepest.path.map((p) => p.name).join(" › ")}`,
    );
  }

  // 3. The default type: has stages, a known demo stage, and fields.
  const { defaultOpportunityType: def } = await execute(DefaultTypeDocument);
  check(def !== null, "defaultOpportunityType is null");
  check(def.defaultType, "defaultOpportunityType.defaultType is false");
  check(def.typeId === defaults[0]?.typeId, `default type ${def.typeId} is not the dropdown's default`);
  check(def.stages.length > 0, "the default type has no stages");
  check(def.fields.length > 0, "the default type has no fields");
  const stageNames = def.stages.flatMap((s) => [s.name, ...s.children.map((c) => c.name)]);
  check(stageNames.includes("初步接洽"), `the demo stage 初步接洽 is missing: ${stageNames.join(", ")}`);
  console.log(`ok  DefaultType: ${def.typeId} ${def.typeName}, ${def.stages.length} stages, ${def.fields.length} fields`);

  // 4. Field lookup: each of the default type's fields by id, and an unknown id.
  for (const f of def.fields) {
    const { opportunityType } = await execute(FieldLookupDocument, { typeId: def.typeId, fieldId: f.id });
    check(opportunityType?.field?.id === f.id, `field(id: ${f.id}) of type ${def.typeId} not found`);
    check(opportunityType.field.name === f.name, `field ${f.id}: name ${opportunityType.field.name}, want ${f.name}`);
    check(opportunityType.field.minUnicode === null || isInt(opportunityType.field.minUnicode), `field ${f.id}: minUnicode`);
  }
  const missing = await execute(FieldLookupDocument, { typeId: def.typeId, fieldId: -1 });
  check(missing.opportunityType?.field === null, "field(id: -1) is not null");
  console.log(`ok  FieldLookup: ${def.fields.length} fields of type ${def.typeId} found by id, id -1 is null`);
}

try {
  await main();
} catch (err) {
  console.error(`FAIL ${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
