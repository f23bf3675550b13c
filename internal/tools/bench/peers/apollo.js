// The Apollo Server 5 peer of the load benchmark (go run
// ./internal/tools/bench -peers): the schema and data of data.js executed by
// graphql-js, served by Apollo's standalone integration on node:http, as its
// documentation starts a server. Defaults throughout (its parsed-and-
// validated document cache included, as the service has its query cache),
// but for one plugin, named below. Run with NODE_ENV=production.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { exitOnSignal, listening, load, options, resolvers } from './data.js';

const opts = options();
const { typeDefs, snapshot } = load(opts);
const server = new ApolloServer({
  typeDefs,
  resolvers: resolvers(snapshot),
  // The cache-control plugin, on by default, hooks every field's
  // resolution to compute a Cache-Control header from @cacheControl hints.
  // The schema has none, so it computes nothing an answer carries, and the
  // service does no per-field work of the kind (its Cache-Control comes
  // from the configuration's age): off, which only makes Apollo faster.
  plugins: [ApolloServerPluginCacheControlDisabled()],
});
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: opts.port } });
exitOnSignal();
listening(new URL(url).port);
