// Composes the example supergraph from the live subgraphs: asks each for
// its SDL ({ _service { sdl } }, what a gateway or a schema registry reads),
// composes them with @theguild/federation-composition (Apollo Federation v2
// rules) and writes the supergraph SDL that Hive Gateway serves.
//
// Usage: node compose.mjs OUTPUT NAME=URL [NAME=URL ...]
//   e.g. node compose.mjs supergraph.graphql oppconfig=http://127.0.0.1:8080/query owners=http://127.0.0.1:4002/graphql
// SUBGRAPH_SECRET, when set, is sent as X-Subgraph-Secret to every subgraph
// (oppconfig-graphql answers _service only to the gateway when it has one).
// Exits non-zero, naming the subgraph or the composition errors, on failure.
import { writeFileSync } from 'node:fs';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

const [output, ...pairs] = process.argv.slice(2);
if (!output || pairs.length === 0) {
  console.error('usage: node compose.mjs OUTPUT NAME=URL [NAME=URL ...]');
  process.exit(2);
}

const headers = { 'content-type': 'application/json', accept: 'application/json' };
if (process.env.SUBGRAPH_SECRET) headers['x-subgraph-secret'] = process.env.SUBGRAPH_SECRET;

const services = [];
for (const pair of pairs) {
  const at = pair.indexOf('=');
  const name = pair.slice(0, at);
  const url = pair.slice(at + 1);
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query: '{ _service { sdl } }' }) });
  const body = await res.json().catch(() => ({}));
  const sdl = body?.data?._service?.sdl;
  if (!res.ok || typeof sdl !== 'string') {
    console.error(`${name} (${url}): no SDL (HTTP ${res.status}): ${JSON.stringify(body).slice(0, 500)}`);
    process.exit(1);
  }
  services.push({ name, url, typeDefs: parse(sdl) });
}

const result = composeServices(services);
if (result.errors?.length) {
  for (const e of result.errors) console.error(`composition: ${e.message}`);
  process.exit(1);
}
writeFileSync(output, result.supergraphSdl);
console.log(`supergraph of ${services.map((s) => s.name).join(', ')} written to ${output}`);
