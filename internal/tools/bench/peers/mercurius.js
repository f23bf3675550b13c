// The Mercurius peer of the load benchmark (go run ./internal/tools/bench
// -peers): the schema and data of data.js served by Mercurius on Fastify,
// with graphql-jit (jit: 1, so that a query is compiled on its second run
// and every later one runs the compiled code). Defaults otherwise (its
// parsed-and-validated document cache included, as the service has its
// query cache; no GraphiQL, no logger). Run with NODE_ENV=production.
import Fastify from 'fastify';
import mercurius from 'mercurius';
import { exitOnSignal, listening, load, options, resolvers } from './data.js';

const opts = options();
const { typeDefs, snapshot } = load(opts);
const app = Fastify();
app.register(mercurius, { schema: typeDefs, resolvers: resolvers(snapshot), jit: 1, path: '/query' });
await app.listen({ host: '127.0.0.1', port: opts.port });
exitOnSignal();
listening(app.server.address().port);
