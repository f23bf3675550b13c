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

  var fetcher = GraphiQL.createFetcher({
    url: new URL(config.endpoint, window.location.href).href,
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
