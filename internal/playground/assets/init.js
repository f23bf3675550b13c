// init.js starts GraphiQL. The page's Content-Security-Policy runs no inline
// script, so the endpoint and the example tabs reach this file as JSON in
// <script type="application/json" id="playground-config">, which is data and
// never executed.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("playground-config").textContent);

  // GraphiQL's dialogs (settings, short keys) lock page scrolling with
  // react-remove-scroll, which injects a <style> element and stamps it with
  // this global. The page's CSP admits inline styles with this per-request
  // nonce and no others.
  window.__webpack_nonce__ = config.styleNonce;

  var url = new URL(config.endpoint, window.location.href);
  // Subscriptions run over graphql-transport-ws on the same endpoint, with
  // the graphql-ws client GraphiQL's bundle carries (subscriptionUrl). A
  // WebSocket has no headers of its own: GraphiQL sends the headers pane as
  // connection_init's payload, where the service reads a credential
  // (Authorization or X-API-Key) when the handshake carried none.
  var ws = new URL(url.href);
  ws.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: ws.href,
  });
  var container = document.getElementById("graphiql");
  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultEditorToolsVisibility: "variables",
    }),
  );
})();
