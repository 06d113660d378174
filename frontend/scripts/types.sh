#!/usr/bin/env bash
# Regenerate the API types from the service's OpenAPI: openapi.json, then src/types/stripe.ts.
#   scripts/types.sh          write both
#   scripts/types.sh --check  fail (exit 1, with a diff) when the committed ones are stale
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-../.venv/bin/python}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$PYTHON" scripts/openapi.py >"$out/openapi.json"
npx --no-install openapi-typescript "$out/openapi.json" -o "$out/stripe.ts" \
  --default-non-nullable false --silent

if [ "${1:-}" = "--check" ]; then
  stale=0
  for pair in "openapi.json:$out/openapi.json" "src/types/stripe.ts:$out/stripe.ts"; do
    committed=${pair%%:*}
    if ! diff -u "$committed" "${pair#*:}" >"$out/diff"; then
      head -40 "$out/diff"
      echo "frontend/$committed is stale: run 'make types' and commit the result" >&2
      stale=1
    fi
  done
  exit $stale
fi
cp "$out/openapi.json" openapi.json
cp "$out/stripe.ts" src/types/stripe.ts
echo "wrote frontend/openapi.json and frontend/src/types/stripe.ts"
