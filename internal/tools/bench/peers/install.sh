#!/usr/bin/env bash
# Installs the load benchmark's peers (package-lock.json, exact versions)
# with npm ci, quietly; the bench's -peers runs it before starting them.
# Idempotent: a stamp in node_modules records the lockfile it installed, and
# an unchanged lockfile installs nothing. Install scripts are not run: the
# peers need none (@apollo/protobufjs's postinstall only prepares its CLI's folder).
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.installed-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
echo "$want" >"$stamp"
