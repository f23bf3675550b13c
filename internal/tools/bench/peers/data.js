// The peers' shared half: the schema, the opportunity configuration loaded
// once and indexed once, and resolvers equivalent to the service's. Both
// peers (apollo.js, mercurius.js) serve exactly this, so that what differs
// between them and the service is the GraphQL server, not the data or the
// work asked of it.
//
// It is the JavaScript spelling of internal/tanmarket's toTypes (the wire
// shape converted into the domain's, every list non-null) and of
// internal/opportunity's NewSnapshot (back-pointers, depths, paths and
// lookup maps set once per configuration, the first of repeated ids
// winning). The navigation values are stored under the schema's own field
// names (parent, depth, path, opportunityType, allStages), so the servers'
// default property resolvers read them, as gqlgen reads the domain's fields
// and methods without a resolver; only the three fields with an argument or
// a lookup have one. No answer is cached: every request executes.
import { readFileSync } from 'node:fs';

// usage prints how the peers are started and exits.
function usage(message) {
  console.error(`${message}\nusage: node apollo.js|mercurius.js -schema schema.graphql -data data.json [-port 0]`);
  process.exit(2);
}

// options reads the command line the bench passes: the schema (the
// committed schema.graphql), the data (the upstream's data array, as the
// simulator serves it) and the port (0: any free one).
export function options(argv = process.argv.slice(2)) {
  const opts = { port: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) usage(`${argv[i]} needs a value`);
    switch (argv[i]) {
      case '-schema': opts.schema = value; break;
      case '-data': opts.data = value; break;
      case '-port': opts.port = Number(value); break;
      default: usage(`unknown flag ${argv[i]}`);
    }
  }
  if (!opts.schema || !opts.data || !Number.isInteger(opts.port)) usage('-schema and -data are required');
  return opts;
}

// load reads the schema's SDL and the data, converted and indexed.
export function load(opts) {
  const typeDefs = readFileSync(opts.schema, 'utf8');
  const types = toTypes(JSON.parse(readFileSync(opts.data, 'utf8')));
  return { typeDefs, snapshot: newSnapshot(types) };
}

const list = (v) => (Array.isArray(v) ? v : []);
// isObject keeps a child that is a stage: the vendor's own sample ends its
// recursion with "children": ["string"], which the service's decoder drops.
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function toOptions(options) {
  return list(options).map((o) => ({ id: o.id ?? 0, name: o.name ?? '' }));
}

function toStages(stages) {
  return list(stages).filter(isObject).map((s) => ({
    id: s.id ?? 0,
    name: s.name ?? '',
    rank: s.rank ?? 0,
    possibility: s.possibility ?? 0,
    requirement: s.requirement ?? '',
    remind: s.remind ?? false,
    remindAfterDays: list(s.remindAfterDays),
    children: toStages(s.children),
    customerFields: list(s.customerFields).map((c) => ({ fieldId: c.fieldId ?? 0, name: c.name ?? '', type: c.type ?? 0 })),
    requiredOppTypeFields: list(s.requiredOppTypeFields).map((r) => ({
      name: r.name ?? '',
      required: r.required ?? false,
      rank: r.rank ?? 0,
      type: r.type ?? 0,
      maxUnicode: r.maxUnicode ?? 0,
      id: r.id ?? 0,
      options: toOptions(r.options),
      scale: r.scale ?? 0,
      typeId: 0, // set by indexStages: the type whose field this is
    })),
    // Set by indexStages.
    parent: null,
    depth: 0,
    path: [],
    opportunityType: null,
  }));
}

function toTypes(data) {
  if (!Array.isArray(data)) throw new Error('data: want the list of opportunity types');
  return data.map((t) => ({
    typeName: t.typeName ?? '',
    typeId: t.typeId ?? 0,
    defaultType: t.defaultType ?? false,
    allowSkip: t.allowSkip ?? false,
    allowGoBack: t.allowGoBack ?? false,
    stages: toStages(t.stages),
    fields: list(t.fields).map((f) => ({
      id: f.id ?? 0,
      name: f.name ?? '',
      required: f.required ?? false,
      type: f.type ?? 0,
      options: toOptions(f.options),
      scale: f.scale ?? 0,
      maxUnicode: f.maxUnicode ?? 0,
      minUnicode: f.minUnicode ?? null, // the upstream sends null when unset
      pattern: f.pattern ?? null,
      rank: f.rank ?? 0,
    })),
    allowInvalidGoBack: t.allowInvalidGoBack ?? false,
    allowDeleteOpportunity: t.allowDeleteOpportunity ?? false,
    deleteOpportunityDate: t.deleteOpportunityDate ?? 0,
    // Set by indexType.
    allStages: [],
    stageById: new Map(),
    fieldById: new Map(),
  }));
}

function newSnapshot(types) {
  const byId = new Map();
  let defaultType = null;
  for (const t of types) {
    if (!byId.has(t.typeId)) byId.set(t.typeId, t);
    if (t.defaultType && defaultType === null) defaultType = t;
    for (const f of t.fields) {
      if (!t.fieldById.has(f.id)) t.fieldById.set(f.id, f);
    }
    indexStages(t, null, t.stages);
  }
  return { types, byId, defaultType };
}

// indexStages walks depth first, siblings in rank order (a stable sort, so
// equal ranks keep upstream order).
function indexStages(t, parent, stages) {
  const ordered = [...stages].sort((a, b) => a.rank - b.rank);
  for (const s of ordered) {
    s.opportunityType = t;
    s.parent = parent;
    s.depth = parent === null ? 0 : parent.depth + 1;
    s.path = parent === null ? [s] : [...parent.path, s];
    if (!t.stageById.has(s.id)) t.stageById.set(s.id, s);
    t.allStages.push(s);
    for (const r of s.requiredOppTypeFields) r.typeId = t.typeId;
    indexStages(t, s, s.children);
  }
}

// resolvers are the service's: the root fields read the snapshot, the
// lookups its maps. RequiredOppTypeField.field looks the field up in the
// type of the required field's typeId, as the service's loader does.
export function resolvers(snapshot) {
  return {
    Query: {
      opportunityTypes: () => snapshot.types,
      opportunityType: (_, { typeId }) => snapshot.byId.get(typeId) ?? null,
      defaultOpportunityType: () => snapshot.defaultType,
    },
    OpportunityType: {
      stage: (t, { id }) => t.stageById.get(id) ?? null,
      field: (t, { id }) => t.fieldById.get(id) ?? null,
    },
    RequiredOppTypeField: {
      field: (r) => snapshot.byId.get(r.typeId)?.fieldById.get(r.id) ?? null,
    },
  };
}

// listening logs where the server listens, in the line the bench's process
// helper (internal/tools/proc) waits for.
export function listening(port) {
  console.log(JSON.stringify({ msg: 'listening', addr: `http://127.0.0.1:${port}` }));
}

// exitOnSignal ends the process cleanly when the bench stops it.
export function exitOnSignal() {
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
}
