#!/usr/bin/env bash
# update-graphiql.sh refreshes the GraphiQL playground's vendored browser
# bundles in internal/playground/assets/vendor/ from the npm registry, at the
# versions pinned below, with each package's licence and a VERSIONS file
# (package@version, path and sha256 of every file copied).
#
# Usage: internal/playground/update-graphiql.sh        (needs npm, tar, sha256sum)
#
# To upgrade, change a pin, run the script, then `go test ./internal/playground`
# and look at the page. GraphiQL 5 ships ES modules only (no UMD bundle), and
# React 19 ships no UMD builds, so stay on graphiql 4.x / react 18.x unless the
# page is rewritten to load ES modules.
set -euo pipefail

GRAPHIQL_VERSION=4.1.2 # last line with a UMD build (graphiql.min.js); globals React, ReactDOM
REACT_VERSION=18.3.1   # last line with UMD builds; react and react-dom must match

# package@version, then the files to copy from its tarball (relative to package/).
# LICENSE is always copied too.
specs=(
	"graphiql@${GRAPHIQL_VERSION}:graphiql.min.js graphiql.min.css"
	"react@${REACT_VERSION}:umd/react.production.min.js"
	"react-dom@${REACT_VERSION}:umd/react-dom.production.min.js"
)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest="$root/internal/playground/assets/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

out="$work/vendor"
mkdir -p "$out"
{
	echo "# Written by internal/playground/update-graphiql.sh; do not edit by hand."
	echo "# package@version  path  sha256"
} >"$out/VERSIONS"

for spec in "${specs[@]}"; do
	pkg=${spec%%:*}        # e.g. react-dom@18.3.1
	name=${pkg%@*}         # react-dom
	read -r -a files <<<"${spec#*:}"

	# npm pack checks the tarball against the registry's integrity hash.
	tarball=$(cd "$work" && npm pack --silent "$pkg" 2>/dev/null | tail -n 1)
	mkdir -p "$work/$name"
	tar -xzf "$work/$tarball" -C "$work/$name"

	mkdir -p "$out/$name"
	for f in LICENSE "${files[@]}"; do
		src="$work/$name/package/$f"
		if [[ ! -f "$src" ]]; then
			echo "update-graphiql: $pkg has no $f" >&2
			exit 1
		fi
		cp "$src" "$out/$name/$(basename "$f")"
		sum=$(sha256sum "$out/$name/$(basename "$f")" | cut -d' ' -f1)
		printf '%s  %s  %s\n' "$pkg" "$name/$(basename "$f")" "$sum" >>"$out/VERSIONS"
	done
done

rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$out" "$dest"
echo "update-graphiql: wrote $(du -sh "$dest" | cut -f1) to ${dest#"$root"/}:"
grep -v '^#' "$dest/VERSIONS"
