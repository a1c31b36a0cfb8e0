# Strait's build. `make run` starts everything on SQLite; `make test` runs every
# test (on MySQL too when STRAIT_TEST_MYSQL_DSN is set).

GO        ?= go
BIN       := bin
# Where `make build` puts the reference connectors and writes manifest.json,
# and where `make run`'s Strait looks for connectors. Set it to use another
# directory; other connectors go in its manifest.d/ (docs/connectors.md).
export STRAIT_PLUGIN_DIR ?= $(BIN)/plugins
PLUGINS   := $(STRAIT_PLUGIN_DIR)
export STRAIT_ADDR     ?= :8080
export STRAIT_DATA_DIR ?= ./data
export STRAIT_PUBLIC_URL ?= http://$(if $(filter :%,$(STRAIT_ADDR)),127.0.0.1$(STRAIT_ADDR),$(STRAIT_ADDR))
SANDBOX_ADDR ?= 127.0.0.1:8090
# Dev credentials shared by the sandbox and the connectors' manifest entries
# ("${SANDBOX_API_KEY}"): not secrets, the sandbox is local.
export SANDBOX_API_KEY        ?= sk_sandbox_test
export SANDBOX_WEBHOOK_SECRET ?= whsec_strait_dev

.PHONY: all build run test test-clients test-short bench generate check-generated migration check-migrations tools clean faults faults-long

all: build

## build: the strait server, the sandbox, and the reference connectors with their manifest
# Connectors are static binaries (CGO_ENABLED=0), as docs/connectors.md says.
# manifest.sh keeps the entries in $(PLUGINS)/manifest.d/.
build:
	@test -x $(BIN)/strait || echo "First build: Go compiles every dependency once, which takes a few minutes (later builds take seconds)."
	$(GO) build -o $(BIN)/strait ./server
	$(GO) build -o $(BIN)/sandbox ./sandbox/cmd/sandbox
	@mkdir -p $(PLUGINS)
	CGO_ENABLED=0 $(GO) build -o $(PLUGINS)/ ./plugins/cardnet ./plugins/bank ./plugins/wallet ./plugins/fx
	@SANDBOX_URL=http://$(SANDBOX_ADDR) sh plugins/manifest.sh $(PLUGINS)

## run: build, start the sandbox, then strait in dev mode (Ctrl-C stops both)
# The sandbox publishes drifting FX rates (-fx-drift): its fixed table is
# dated midnight, too old to quote from after 00:15. Its log goes to
# $(STRAIT_DATA_DIR)/sandbox.log, so that the terminal shows Strait's alone.
run: build
	@mkdir -p $(STRAIT_DATA_DIR)
	@echo "sandbox on $(SANDBOX_ADDR), logging to $(STRAIT_DATA_DIR)/sandbox.log"
	@$(BIN)/sandbox -addr $(SANDBOX_ADDR) -data $(STRAIT_DATA_DIR)/sandbox -fx-drift >>$(STRAIT_DATA_DIR)/sandbox.log 2>&1 & sandbox=$$!; \
	trap 'kill -TERM $$sandbox 2>/dev/null; wait $$sandbox 2>/dev/null' EXIT INT TERM; \
	i=0; until curl -sf -o /dev/null http://$(SANDBOX_ADDR)/healthz; do \
		i=$$((i+1)); if [ $$i -gt 100 ]; then echo "sandbox did not start on $(SANDBOX_ADDR): see $(STRAIT_DATA_DIR)/sandbox.log"; tail -5 $(STRAIT_DATA_DIR)/sandbox.log; exit 1; fi; sleep 0.1; \
	done; \
	STRAIT_DEV=true $(BIN)/strait serve

## test: every test, with the race detector on the packages that run concurrently
# RACE_PKGS are the packages whose tests run goroutines against shared state:
# group commit, the payment core's executor, idempotency claims, the ledger's row locks, the inbox
# processor, the read cache, the payment pipeline, the plugin host, the SDK's
# emitter, the @idempotent directive, the websocket transport (its writers,
# readers and shared fan-outs). They run under -race (about 45 s more
# than without on two cores, plus compiling them for it once); every other
# package runs without it, the end-to-end tests of server/app included:
# they drive real processes with timing margins (a held card, a hung
# database) that the detector's slowdown would break.
RACE_PKGS := payments/batch payments/executor payments/idempotency payments/ledger payments/inbox payments/readcache \
	payments/cashier payments/events connectors/host connectors/sdk graph server/wsock
MODULE    := github.com/straitpay/strait
empty     :=
space     := $(empty) $(empty)
RACE_RE   := ^$(MODULE)/($(subst $(space),|,$(strip $(RACE_PKGS))))(/.*)?$$
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -vE '$(RACE_RE)')
	$(GO) test -race -count=1 -timeout 30m $(foreach p,$(RACE_PKGS),./$(p)/...)
	$(MAKE) test-clients

## test-clients: the GraphQL ecosystem's own audit and clients (graphql-http,
## graphql-ws, Apollo Client, GraphQL Code Generator, GraphiQL in headless
## Chromium) against a freshly built strait; see clients/
test-clients:
	@command -v node >/dev/null && command -v npm >/dev/null || \
		{ echo "test-clients needs Node.js and npm: apt-get install -y nodejs npm"; exit 1; }
	@test -x $${CHROMIUM:-/usr/bin/chromium} || \
		{ echo "test-clients needs Chromium: apt-get update && apt-get install -y chromium"; exit 1; }
	$(MAKE) build # the sandbox and the plugins too: tests/subscriptions pays by card
	@cd clients && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; }
	cd clients && npm test

## bench: the benchmarks in bench/, printing figures and ratios
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./bench/...

## faults: the fault harness (docs/faults.md) on SEED (default 1) for DURATION (default 30s); SEEDS seeds from SEED
SEED     ?= 1
SEEDS    ?= 1
DURATION ?= 30s
faults: build
	$(GO) run ./bench/faults/cmd/faults -bin $(BIN) -seed $(SEED) -seeds $(SEEDS) -duration $(DURATION)

## faults-long: 200 seeds of the fault harness, for a night
faults-long: build
	$(GO) run ./bench/faults/cmd/faults -bin $(BIN) -seed $(SEED) -seeds 200 -duration $(or $(filter-out 30s,$(DURATION)),60s)

## generate: the whole codegen chain (ent + entgql, gqlgen, protobuf)
generate: tools
	$(GO) run ./ent/entc.go
	$(GO) tool gqlgen generate
	@if [ -f connectors/proto/generate.go ]; then $(GO) generate ./connectors/proto/...; fi

## check-generated: fail when generated code differs from what `make generate` makes
check-generated: generate
	@git add -N . && git diff --exit-code --stat -- . ':(exclude)go.sum' || \
		(echo "generated code is stale: run make generate and commit" && exit 1)

## migration: write a MySQL migration for schema changes (needs MariaDB/MySQL on 127.0.0.1:3306)
migration:
	$(GO) run ./payments/store/gen_migration.go -name $(or $(NAME),change)

## check-migrations: fail when ent/schema changed without a migration
check-migrations:
	$(GO) run ./payments/store/gen_migration.go -check

## tools: protoc plugins used by `make generate`
tools:
	@command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	@$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	@$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0

clean:
	rm -rf $(BIN)
