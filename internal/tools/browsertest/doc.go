// Package browsertest drives the pipeline explorer page (GET /explorer) and the
// GraphiQL playground (GET /) of the real service in headless Chromium, live
// configuration included; it has tests only. Without /usr/bin/chromium the
// tests skip, unless BROWSER_TEST_REQUIRED=1 (set by .ci/browser.sh, which
// installs Chromium first).
package browsertest
