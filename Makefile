# Everything runs on the project's own Node.js 24 (the `node` npm package) once installed.
SHELL := /bin/bash
SYSTEM_PATH := $(PATH)
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export REDOCLY_TELEMETRY := off

INSTALLED := node_modules/.installed

.PHONY: token install run test generate check-generated lint typecheck migrate build clean bench-dispatch

$(INSTALLED): package.json package-lock.json
	PATH="$(SYSTEM_PATH)" npm ci --no-audit --no-fund
	touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	node src/main.ts

test: $(INSTALLED) check-generated typecheck
	mkdir -p test-output
	vitest run --reporter=default --reporter=json --outputFile.json=test-output/vitest.json

generate: $(INSTALLED)
	openapi-typescript openapi.yaml -o generated/openapi.ts

# generated/ must be what openapi.yaml generates today.
check-generated: $(INSTALLED)
	@tmp=$$(mktemp -d) && openapi-typescript openapi.yaml -o $$tmp/openapi.ts >/dev/null 2>&1 && \
	if ! diff -q $$tmp/openapi.ts generated/openapi.ts >/dev/null; then \
	  echo "generated/ is stale: run 'make generate' and commit it"; rm -rf $$tmp; exit 1; fi; rm -rf $$tmp

typecheck: $(INSTALLED)
	tsc --noEmit -p .

lint: check-generated typecheck

# A development JWT: make token [SUB=user_42] [ROLE=service_role] [TTL=3600] (needs JWT_SECRET).
token: $(INSTALLED)
	@node scripts/token.ts

migrate: $(INSTALLED)
	node src/db/migrate.ts

# Routing by @koa/router vs openapi-backend's handleRequest, interleaved, no database.
bench-dispatch: $(INSTALLED)
	node bench/dispatch.ts

# dist/ runs with `node dist/src/main.js` (it reads the contract and migrations beside it).
build: $(INSTALLED)
	rm -rf dist
	tsc -p tsconfig.build.json
	cp -r openapi.yaml package.json sql dist/

clean:
	rm -rf dist test-output node_modules
