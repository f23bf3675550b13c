// Hive Gateway's configuration for the example supergraph (read from the
// working directory by `hive-gateway supergraph FILE`).
//
// Toward oppconfig-graphql it sends the shared secret (SUBGRAPH_SECRET) as
// X-Subgraph-Secret, which lets the gateway use _entities and _service there
// (and authenticates it in place of AUTH_MODE's credential), and names the
// client it forwards for in X-Client-Id (the service's SUBGRAPH_CLIENT_HEADER),
// so that the service's rate limits count each client, not the gateway.
import { defineConfig } from '@graphql-hive/gateway';

const secret = process.env.SUBGRAPH_SECRET;

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request, subgraphName }) {
      if (subgraphName !== 'oppconfig') return {};
      const headers = {};
      if (secret) headers['x-subgraph-secret'] = secret;
      // The client as the gateway knows it: here, what the client says;
      // a real gateway would name the client it authenticated.
      const client = request.headers.get('x-client-id');
      if (client) headers['x-client-id'] = client;
      return headers;
    },
  },
});
