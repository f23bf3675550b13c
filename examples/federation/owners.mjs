// A second subgraph of the example supergraph: the team that owns each
// opportunity type's pipeline. It extends oppconfig-graphql's
// OpportunityType by its key (typeId) with one field, owner, so that queries
// cross both subgraphs either way:
//
//   { opportunityTypes { typeName owner } }   oppconfig-graphql answers the
//       types, then this subgraph's _entities their owners;
//   { ownedType(typeId: 1002) { owner typeName stages { name } } }   this
//       subgraph answers the reference and the owner, then
//       oppconfig-graphql's _entities the rest.
//
// Usage: PORT=4002 node owners.mjs   (PORT=0 or unset: a free port)
// It prints "owners subgraph at http://127.0.0.1:PORT/graphql" once listening.
import { createServer } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { graphql, parse } from 'graphql';

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  "OpportunityType, as this subgraph knows it: its key and who owns its pipeline."
  type Query {
    "ownedType — the opportunity type with this key, as this subgraph refers to it (its owner; the rest from oppconfig-graphql)."
    ownedType(typeId: Int!): OpportunityType!
  }

  type OpportunityType @key(fields: "typeId") {
    typeId: Int!
    "owner — the sales team that owns this pipeline (a made-up rule: one of three teams by typeId)."
    owner: String!
  }
`);

// owner is computed from the key alone, so the test knows what to expect
// without a data set of its own.
export const ownerOf = (typeId) => `team-${['north', 'south', 'east'][typeId % 3]}`;

const resolvers = {
  Query: {
    ownedType: (_, { typeId }) => ({ typeId }),
  },
  OpportunityType: {
    __resolveReference: (ref) => ({ typeId: ref.typeId }),
    owner: (t) => ownerOf(t.typeId),
  },
};

const schema = buildSubgraphSchema([{ typeDefs, resolvers }]);

// The smallest GraphQL-over-HTTP a gateway needs: POST of JSON, JSON back.
const server = createServer(async (req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  let body = '';
  for await (const chunk of req) body += chunk;
  let params;
  try {
    params = JSON.parse(body);
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'body is not JSON' }] }));
    return;
  }
  const result = await graphql({
    schema,
    source: params.query,
    variableValues: params.variables,
    operationName: params.operationName,
  });
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`owners subgraph at http://127.0.0.1:${server.address().port}/graphql`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
