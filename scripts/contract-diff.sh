#!/usr/bin/env bash
# make contract-diff: does openapi.yaml break clients of the contract as it was released?
#
# Base: CONTRACT_BASE (any git ref) if set; else the last release tag (v*); else the merge-base
# of HEAD with main (origin/main first). On main itself that is HEAD, so uncommitted changes to
# the contract are checked. The new contract is openapi.yaml, or CONTRACT_FILE.
# The check is Optic's breaking-changes ruleset (@useoptic/optic, tools/contract-diff), offline,
# telemetry off: removed operations, fields or status codes, narrowed types, new required inputs,
# removed enum values and more fail it.
set -euo pipefail
cd "$(dirname "$0")/.."
optic=tools/contract-diff/node_modules/.bin/optic
file=${CONTRACT_FILE:-openapi.yaml}

base=${CONTRACT_BASE:-}
how="CONTRACT_BASE"
if [ -z "$base" ] && base=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
  how="the last release tag"
fi
if [ -z "$base" ]; then
  for branch in origin/main main; do
    if git rev-parse -q --verify "$branch^{commit}" >/dev/null; then
      base=$(git merge-base HEAD "$branch")
      how="the merge-base of HEAD with $branch"
      break
    fi
  done
fi
if [ -z "$base" ]; then
  echo "contract-diff: no release tag and no main branch to compare with; nothing to check"
  exit 0
fi
if ! git cat-file -e "$base:openapi.yaml" 2>/dev/null; then
  echo "contract-diff: $base has no openapi.yaml; nothing to compare with"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git show "$base:openapi.yaml" > "$tmp/released.yaml"
echo "contract-diff: $file against openapi.yaml at $(git rev-parse --short "$base") ($how)"
OPTIC_TELEMETRY_LEVEL=off "$optic" diff "$tmp/released.yaml" "$file" --check --severity error
