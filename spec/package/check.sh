#!/usr/bin/env bash
# The published package, as a user gets it: `npm pack`, install the tarball into a fresh project
# outside the repository, then run an ESM and a CommonJS consumer and the `stele` bin against it.
# Run by .ci/run; takes a few minutes (better-sqlite3 compiles in the fresh project).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tarball="$(cd "$repo" && npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "packed $tarball: $(tar -tzf "$work/$tarball" | wc -l) files"
# No dev files: only dist/, native-sql/ and the top-level docs.
if tar -tzf "$work/$tarball" | grep -vE '^package/(dist/|native-sql/|README\.md$|package\.json$|LICENSE$)'; then
  echo "the tarball ships files outside dist/ and native-sql/" >&2
  exit 1
fi

cd "$work"
# npm >= 11 runs a dependency's install script only when the project allows it.
cat > package.json <<'JSON'
{ "name": "stele-consumer", "version": "1.0.0", "private": true, "allowScripts": { "better-sqlite3": true } }
JSON
npm install --no-audit --no-fund --loglevel=error "./$tarball"
cp "$here/consumer.mjs" "$here/consumer.cjs" .
node consumer.mjs
node consumer.cjs
# The bin, as an operator runs it: a ledger written by the installed package, then read from the shell.
cat > make-ledger.mjs <<'JS'
import { openLedger } from 'stele';
const ledger = await openLedger('cli.db');
await ledger.append({ type: 'installed', payload: { via: 'bin' } });
await ledger.close();
JS
node make-ledger.mjs
node_modules/.bin/stele head cli.db --json
node_modules/.bin/stele verify cli.db
# A strict TypeScript app (skipLibCheck off) against the installed declarations, with what a user
# has: no @types/better-sqlite3. In a folder of its own that is an ESM package, for nodenext.
npm install --no-audit --no-fund --loglevel=error typescript@5.9.3 @types/node@20.19.9 zod@4.3.6
test ! -e node_modules/@types/better-sqlite3
mkdir typed && cp "$here/typed-consumer/"* typed/ && echo '{ "type": "module" }' > typed/package.json
(cd typed && ../node_modules/.bin/tsc -p tsconfig.nodenext.json && ../node_modules/.bin/tsc -p tsconfig.bundler.json)
echo "typed consumer: ok"
echo "package check: ok"
