# Everything runs on the project's own Node.js 24 (the `node` npm package) once installed.
SHELL := /bin/bash
SYSTEM_PATH := $(PATH)
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export REDOCLY_TELEMETRY := off

INSTALLED := node_modules/.installed

.PHONY: token install run test generate check-generated lint typecheck migrate build clean bench-dispatch bench bench-export bench-search docs contract-lint browser pooler contract-diff fuzz

$(INSTALLED): package.json package-lock.json
	PATH="$(SYSTEM_PATH)" npm ci --no-audit --no-fund
	touch $@

install: $(INSTALLED)

# The docs page is built beforehand (about 0.6 s, only when openapi.yaml or redocly.yaml changed),
# so start-up never waits for it; the server builds it itself on the first GET /docs otherwise.
run: dist/.built
	node dist/src/start.js

test: $(INSTALLED) check-generated typecheck browser pooler
	mkdir -p test-output
	vitest run --reporter=default --reporter=json --outputFile.json=test-output/vitest.json

# The API reference: one self-contained HTML file rendered by Redoc (served at GET /docs).
docs: docs/index.html

docs/index.html: openapi.yaml $(wildcard redocly.yaml) $(INSTALLED)
	node scripts/build-docs.ts

generate: $(INSTALLED)
	openapi-typescript openapi.yaml --redocly lint/generate.redocly.yaml -o generated/openapi.ts

# generated/ must be what openapi.yaml generates today.
check-generated: $(INSTALLED)
	@tmp=$$(mktemp -d) && openapi-typescript openapi.yaml --redocly lint/generate.redocly.yaml -o $$tmp/openapi.ts >/dev/null 2>&1 && \
	if ! diff -q $$tmp/openapi.ts generated/openapi.ts >/dev/null; then \
	  echo "generated/ is stale: run 'make generate' and commit it"; rm -rf $$tmp; exit 1; fi; rm -rf $$tmp

typecheck: $(INSTALLED)
	tsc --noEmit -p .

lint: check-generated typecheck contract-lint contract-diff

# openapi.yaml against recommended-strict and our conventions (redocly.yaml, lint/conventions.js).
contract-lint: $(INSTALLED)
	redocly lint openapi.yaml --format=stylish

# Debian's Chromium for tests/docs-browser.test.ts, installed where missing (never downloaded by npm).
browser:
	@bash scripts/ensure-chromium.sh

# Debian's PgBouncer for tests/managed-postgres-pooler.test.ts, installed where missing and apt can.
pooler:
	@bash scripts/ensure-pgbouncer.sh

# Breaking changes of openapi.yaml against the last release tag, or main's merge-base (see
# scripts/contract-diff.sh; CONTRACT_BASE=<ref> to choose). Optic lives in tools/contract-diff,
# installed on first use, so that `make test` does not carry its 500 packages.
CONTRACT_DIFF_TOOLS := tools/contract-diff/node_modules/.installed
$(CONTRACT_DIFF_TOOLS): tools/contract-diff/package.json tools/contract-diff/package-lock.json
	cd tools/contract-diff && PATH="$(SYSTEM_PATH)" npm ci --no-audit --no-fund
	touch $@

contract-diff: $(INSTALLED) $(CONTRACT_DIFF_TOOLS)
	@bash scripts/contract-diff.sh

# Conformance fuzzing at depth: FUZZ_RUNS cases per property (make test runs 100), FUZZ_SEED to
# vary or reproduce a run (tests/fuzz-contract.test.ts prints both); without authentication, then
# against a server that requires tokens (FUZZ_AUTH=jwt, a service token on every request).
FUZZ_RUNS ?= 2000
fuzz: $(INSTALLED)
	FUZZ_RUNS=$(FUZZ_RUNS) vitest run tests/fuzz-contract.test.ts
	FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_AUTH=jwt vitest run tests/fuzz-contract.test.ts

# A development JWT: make token [SUB=user_42] [ROLE=service_role] [TTL=3600] (needs JWT_SECRET).
token: $(INSTALLED)
	@node scripts/token.ts

migrate: $(INSTALLED)
	node src/db/migrate.ts

# Routing by @koa/router vs openapi-backend's handleRequest, interleaved, no database.
bench-dispatch: $(INSTALLED)
	node bench/dispatch.ts

# Our service against two minimal floors (bench/floor.ts on our schema, and on the original
# design's table) on a seeded PostgreSQL, interleaved, then the ladder and ours under a 256 MB
# memory limit (a cgroup; BENCH_MEMORY=0 skips it); writes bench/results/latest.{md,json}.
# BENCH_ROWS=1000000 for a larger table, BENCH_SCALE=1 for the list scenarios at 100k vs 1M rows
# (see docs/performance.md).
bench: dist/.built
	node bench/run.ts
	node bench/export.ts
	node bench/search.ts

# Only the export step of make bench (export-10k, and peak RSS at 1,000 vs 100,000 messages).
bench-export: dist/.built
	node bench/export.ts

# GET /messages/search: a rare and a common word in one user's 100,000 messages, and the rare word
# at 10,000 vs BENCH_SEARCH_ROWS (1000000) messages in the table; writes bench/results/search.{md,json}.
bench-search: dist/.built
	node bench/search.ts

# The service as production runs it (make run, make bench): bundled into dist/ by esbuild (under a
# second, redone only when a source changed), with the contract beside it also as JSON, read at
# start-up without a YAML parser (scripts/build.ts). `node dist/src/start.js` runs it.
BUILD_INPUTS := $(shell find src generated sql -type f) openapi.yaml package.json
build: dist/.built

dist/.built: $(INSTALLED) docs/index.html $(BUILD_INPUTS) scripts/build.ts
	node scripts/build.ts dist
	touch $@

clean:
	rm -rf dist test-output node_modules docs/index.html
