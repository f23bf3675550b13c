#!/usr/bin/env bash
# Breaking-change check of the published schema: compares schema.graphql with
# the previous released snapshot using graphql-inspector (npm, pinned by
# .ci/tools/package-lock.json) and fails on a breaking change unless
# CHANGELOG.md's "## Unreleased" section has an entry starting "BREAKING:".
#
# The previous snapshot is schema.graphql at the most recent tag v* reachable
# from HEAD; without one (or if that tag predates the file), the first commit
# that added schema.graphql; without that, the check is skipped. That
# schema.graphql matches the code is checked by go test (TestSchemaSnapshot).
#
# Usage: bash .ci/schema.sh [new-schema-file]   (default: schema.graphql)
set -euo pipefail
cd "$(dirname "$0")/.."

new=${1:-schema.graphql}
changelog=CHANGELOG.md

if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  echo "warning: shallow clone; the previous release may be missing (fetch with --unshallow --tags)" >&2
fi

base=""
tag=$(git describe --tags --abbrev=0 --match 'v*' HEAD 2>/dev/null || true)
if [ -n "$tag" ] && git cat-file -e "$tag:schema.graphql" 2>/dev/null; then
  base=$tag
  what="release $tag"
else
  first=$(git log --diff-filter=A --format=%H --reverse -- schema.graphql | head -n 1)
  if [ -n "$first" ]; then
    base=$first
    what="first committed schema.graphql ($(git log -1 --format='%h %s' "$first"))"
  fi
fi
if [ -z "$base" ]; then
  echo "schema: no release tag v* and no commit with schema.graphql yet; nothing to compare, skipped"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git show "$base:schema.graphql" >"$tmp/old.graphql"

# --loglevel=error: the lock pulls in @whatwg-node packages that declare
# node >= 22 for graphql-inspector's URL loader; diffing two files never loads
# them, and Node 20 runs the diff fine, so the EBADENGINE warnings are noise.
(cd .ci/tools && npm ci --no-audit --no-fund --loglevel=error)

echo "schema: $new against the $what"
set +e
out=$(.ci/tools/node_modules/.bin/graphql-inspector diff "$tmp/old.graphql" "$new" 2>&1)
rc=$?
set -e
echo "$out"
[ "$rc" -eq 0 ] && exit 0
if ! grep -qE 'Detected [0-9]+ breaking change' <<<"$out"; then
  echo "schema: graphql-inspector failed (exit $rc) without reporting breaking changes" >&2
  exit "$rc"
fi

# The "## Unreleased" section: from its heading up to the next "## " heading.
unreleased=$(awk '/^## /{ on = ($0 ~ /^## \[?Unreleased\]?[[:space:]]*$/); next } on' "$changelog" 2>/dev/null || true)
if grep -qE '^[[:space:]]*[-*][[:space:]]+BREAKING:' <<<"$unreleased"; then
  echo "schema: breaking changes acknowledged in $changelog:"
  grep -E '^[[:space:]]*[-*][[:space:]]+BREAKING:' <<<"$unreleased"
  exit 0
fi
cat >&2 <<EOF
schema: breaking changes against the $what (listed above with ✖).
Either keep the old fields (add new ones, deprecate with @deprecated), or
announce the break to clients: add an entry to the "## Unreleased" section of
$changelog that starts with "BREAKING:" and says what clients must change, e.g.
  - BREAKING: removed OpportunityType.allowSkip; …
EOF
exit 1
