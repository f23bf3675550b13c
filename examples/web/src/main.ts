// Runs each query of operations.ts against the service at GRAPHQL_URL
// (default http://localhost:8080/query, the demo data) with plain fetch, and
// checks the typed results at run time. Exits non-zero on the first failure.
// (The subscription, ConfigChanges, is src/live.ts's.)
import { check, execute, ResponseError, url } from "./client.js";
import type { FieldValueErrorCode, FieldValueInput, MoveRefusal, PipelineQuery } from "./gql/graphql.js";
import {
  DefaultTypeDocument,
  FieldLookupDocument,
  MovesDocument,
  OpportunityTypesDocument,
  PipelineDocument,
  ValidateOpportunityDocument,
} from "./operations.js";

/** expectError runs op, which must fail with a GraphQL error of code code. */
async function expectError(code: string, what: string, op: () => Promise<unknown>): Promise<void> {
  try {
    await op();
  } catch (err) {
    if (!(err instanceof ResponseError)) throw err;
    check(err.codes.includes(code), `${what}: want an error with code ${code}, got ${err.message}`);
    return;
  }
  throw new Error(`${what}: want an error with code ${code}, got data`);
}

/**
 * unreachable is the default of a switch over a generated enum: once every
 * value has its case, value is never, so an enum value the schema adds (and
 * codegen then generates) fails tsc here until the client handles it.
 */
function unreachable(value: never): never {
  throw new Error(`value ${JSON.stringify(value)} is not in the generated types: run codegen`);
}

type Pipeline = NonNullable<PipelineQuery["opportunityType"]>;

/**
 * refusalRule explains a MoveRefusal, and names the type's flag that must be
 * false for the service to refuse a move so (null: no flag, the stage is the
 * opportunity's own).
 */
function refusalRule(refusal: MoveRefusal): {
  reason: string;
  flag: "allowSkip" | "allowGoBack" | "allowInvalidGoBack" | null;
} {
  switch (refusal) {
    case "SAME_STAGE":
      return { reason: "the opportunity is there already", flag: null };
    case "SKIP_NOT_ALLOWED":
      return { reason: "more than one stage ahead, and the type does not allow skipping", flag: "allowSkip" };
    case "GO_BACK_NOT_ALLOWED":
      return { reason: "an earlier stage, and the type does not allow going back", flag: "allowGoBack" };
    case "CLOSED_GO_BACK_NOT_ALLOWED":
      return { reason: "back from a lost stage, and the type does not allow it", flag: "allowInvalidGoBack" };
    default:
      return unreachable(refusal);
  }
}

/**
 * aboutGivenValue says whether an error of this code is about a value the
 * form gave (such errors come first, in input order) or about a required
 * field it left out (REQUIRED, after them).
 */
function aboutGivenValue(code: FieldValueErrorCode): boolean {
  switch (code) {
    case "REQUIRED":
      return false;
    case "UNKNOWN_FIELD":
    case "TOO_SHORT":
    case "TOO_LONG":
    case "PATTERN_MISMATCH":
    case "NOT_A_NUMBER":
    case "SCALE_EXCEEDED":
    case "NOT_AN_OPTION":
    case "TOO_MANY_VALUES":
      return true;
    default:
      return unreachable(code);
  }
}

/** Field type codes (the vendor's): selects, numbers; every other code is text. */
const SINGLE_SELECT = 3;
const MULTI_SELECT = 4;
const NUMERIC = new Set([5, 6]);

/** sameIds compares two lists of ids, order included. */
const sameIds = (a: number[], b: number[]): boolean => a.length === b.length && a.every((id, i) => id === b[i]);

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
  const pipelines = new Map<number, Pipeline>();
  for (const { typeId } of opportunityTypes) {
    const { opportunityType } = await execute(PipelineDocument, { typeId });
    check(opportunityType !== null, `opportunityType(typeId: ${typeId}) is null`);
    pipelines.set(typeId, opportunityType);
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

  // 5. Moves (阶段推进) of the first type's pipeline from its second stage:
  //    every stage once, in allStages order; the stage itself refused as
  //    SAME_STAGE; every other refusal backed by a flag the type has off; each
  //    move's required fields those of the stage, as the pipeline lists them.
  const first = opportunityTypes[0];
  const pipeline = first && pipelines.get(first.typeId);
  check(pipeline !== undefined, "the first type's pipeline was not fetched");
  const from = pipeline.allStages.filter((s) => s.depth === 0)[1];
  check(from !== undefined, `type ${pipeline.typeId} has fewer than two stages`);
  const { opportunityType: moving } = await execute(MovesDocument, { typeId: pipeline.typeId, from: from.id });
  check(moving !== null, `opportunityType(typeId: ${pipeline.typeId}) is null`);
  const { moves } = moving;
  const where = `moves(from: ${from.id}) of type ${pipeline.typeId}`;
  const targets = moves.map((m) => m.to.id);
  const stageIds = pipeline.allStages.map((s) => s.id);
  check(sameIds(targets, stageIds), `${where}: targets ${targets.join(",")}, want allStages ${stageIds.join(",")}`);
  const allowed: string[] = [];
  const refused: string[] = [];
  for (const m of moves) {
    const target = `${m.to.id} ${m.to.name} (${m.to.kind})`;
    if (m.to.id === from.id) {
      check(m.refusal === "SAME_STAGE", `${where}: the move to ${from.id} itself is ${m.refusal ?? "allowed"}, want SAME_STAGE`);
    }
    // allowed and refusal agree: refusal is null exactly when allowed.
    if (m.refusal === null) {
      check(m.allowed, `${where}: ${target} is refused without a refusal`);
      allowed.push(target);
    } else {
      check(!m.allowed, `${where}: ${target} is allowed with refusal ${m.refusal}`);
      const rule = refusalRule(m.refusal);
      check(rule.flag === null || !pipeline[rule.flag], `${where}: ${target} refused as ${m.refusal}, but ${rule.flag} is true`);
      refused.push(`${target}: ${m.refusal}, ${rule.reason}`);
    }
    const stage = pipeline.allStages.find((s) => s.id === m.to.id);
    const want = (stage?.requiredOppTypeFields ?? []).filter((r) => r.required && r.field !== null).map((r) => r.id);
    const got = m.requiredFields.map((f) => f.id);
    check(sameIds(got, want), `${where}: ${target} requires fields ${got.join(",")}, the pipeline says ${want.join(",")}`);
  }
  check(allowed.length > 0, `${where}: no move is allowed`);
  await expectError("STAGE_NOT_FOUND", "moves(from: -1)", () => execute(MovesDocument, { typeId: pipeline.typeId, from: -1 }));
  console.log(
    `ok  Moves(${pipeline.typeId} from ${from.id} ${from.name}): ${allowed.length} allowed, ${refused.length} refused; ` +
      "from -1 is STAGE_NOT_FOUND",
  );
  console.log(`      allowed: ${allowed.join(", ")}`);
  for (const r of refused) console.log(`      refused: ${r}`);

  // 6. validateOpportunity (校验商机字段) of a deliberately wrong form of the
  //    default type, to enter its second stage: an unknown field, an over-long
  //    text, a select's non-option; beside them two values that pass (a text
  //    exactly as long as allowed, in emoji: lengths count code points, not
  //    JavaScript's UTF-16 units, and a multi-select's option). Every required
  //    field left out must be REQUIRED, those of the type first, then the stage's.
  const target = def.stages[1];
  check(target !== undefined, `the default type ${def.typeId} has fewer than two stages`);
  const isText = (f: (typeof def.fields)[number]) =>
    f.type !== SINGLE_SELECT && f.type !== MULTI_SELECT && !NUMERIC.has(f.type) && f.maxUnicode > 0 && f.pattern === null;
  const [longText, exactText] = def.fields.filter(isText);
  const select = def.fields.find((f) => f.type === SINGLE_SELECT && f.options.length > 0);
  const multi = def.fields.find((f) => f.type === MULTI_SELECT && f.options.length > 0);
  check(longText !== undefined && exactText !== undefined, `type ${def.typeId} has fewer than two plain text fields`);
  check(select !== undefined && multi !== undefined, `type ${def.typeId} lacks a single or a multi-select with options`);
  const unknownId = Math.max(...def.fields.map((f) => f.id)) + 1;
  const values: FieldValueInput[] = [
    { fieldId: unknownId, value: "x" },
    { fieldId: longText.id, value: "长".repeat(longText.maxUnicode + 1) },
    { fieldId: exactText.id, value: "🚀".repeat(exactText.maxUnicode) },
    { fieldId: select.id, value: String(Math.max(...select.options.map((o) => o.id)) + 1) },
    { fieldId: multi.id, values: [String(multi.options[0]?.id)] },
  ];
  const wantCodes = new Map<number, FieldValueErrorCode>([
    [unknownId, "UNKNOWN_FIELD"],
    [longText.id, "TOO_LONG"],
    [select.id, "NOT_AN_OPTION"],
  ]);
  const { validateOpportunity: v } = await execute(ValidateOpportunityDocument, {
    typeId: def.typeId,
    stageId: target.id,
    values,
  });
  const asked = `validateOpportunity(typeId: ${def.typeId}, stageId: ${target.id})`;
  check(!v.valid, `${asked}: a wrong form is valid`);
  check(v.errors.length > 0, `${asked}: valid is false without errors`);
  check(new Set(v.errors.map((e) => e.fieldId)).size === v.errors.length, `${asked}: more than one error for a field`);
  for (const e of v.errors) {
    check(e.message.length > 0, `${asked}: field ${e.fieldId}: ${e.code} without a message`);
    check(e.field === null || e.field.id === e.fieldId, `${asked}: error for ${e.fieldId} resolves to field ${e.field?.id}`);
  }
  for (const [fieldId, code] of wantCodes) {
    const e = v.errors.find((e) => e.fieldId === fieldId);
    check(e?.code === code, `${asked}: field ${fieldId}: ${e?.code ?? "no error"}, want ${code}`);
  }
  check(v.errors.find((e) => e.fieldId === unknownId)?.field === null, `${asked}: unknown field ${unknownId} has a definition`);
  for (const f of [exactText, multi]) {
    const e = v.errors.find((e) => e.fieldId === f.id);
    check(e === undefined, `${asked}: valid value of field ${f.id} ${f.name}: ${e?.code}: ${e?.message}`);
  }
  // The order: the values' errors in input order, then the missing fields.
  const given = values.map((x) => x.fieldId);
  const valueErrors = v.errors.filter((e) => aboutGivenValue(e.code)).map((e) => e.fieldId);
  const wantValueErrors = given.filter((id) => wantCodes.has(id));
  check(sameIds(valueErrors, wantValueErrors), `${asked}: value errors for ${valueErrors.join(",")}, want ${wantValueErrors.join(",")}`);
  const stageRequired = (pipelines.get(def.typeId)?.allStages.find((s) => s.id === target.id)?.requiredOppTypeFields ?? [])
    .filter((r) => r.required && r.field !== null)
    .map((r) => r.id);
  const typeRequired = def.fields.filter((f) => f.required).map((f) => f.id);
  const leftOut = [...new Set([...typeRequired, ...stageRequired])].filter((id) => !given.includes(id));
  const requiredErrors = v.errors.filter((e) => !aboutGivenValue(e.code)).map((e) => e.fieldId);
  check(sameIds(requiredErrors, leftOut), `${asked}: REQUIRED for ${requiredErrors.join(",")}, want ${leftOut.join(",")}`);
  check(v.errors.slice(0, valueErrors.length).every((e) => aboutGivenValue(e.code)), `${asked}: REQUIRED before a value's error`);
  await expectError("TYPE_NOT_FOUND", "validateOpportunity(typeId: -1)", () =>
    execute(ValidateOpportunityDocument, { typeId: -1, values: [] }),
  );
  await expectError("STAGE_NOT_FOUND", "validateOpportunity(stageId: -1)", () =>
    execute(ValidateOpportunityDocument, { typeId: def.typeId, stageId: -1, values: [] }),
  );
  console.log(
    `ok  ValidateOpportunity(${def.typeId}, to enter ${target.id} ${target.name}): ${v.errors.length} errors; ` +
      "typeId -1 is TYPE_NOT_FOUND, stageId -1 STAGE_NOT_FOUND",
  );
  for (const e of v.errors) console.log(`      ${e.fieldId} ${e.field?.name ?? "(no such field)"}: ${e.code}: ${e.message}`);
}

try {
  await main();
} catch (err) {
  console.error(`FAIL ${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
