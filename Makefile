# Every target creates the virtual environment first when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAGE ?= dev
# cdk deploy asks before widening IAM; CI (no terminal) passes APPROVAL=never.
APPROVAL ?= broadening
# Names the Node.js major versions whose end-of-life banner jsii should not print.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help install run token test bench docs load smoke pytest lint typecheck format client synth package preflight deploy destroy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt requirements-infra.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) ## Create the virtual environment and install everything

run: $(STAMP) ## Serve the API locally on embedded PostgreSQL and S3 (Swagger UI at /docs)
	$(BIN)/python -m local.run

token: $(STAMP) ## Print a bearer token for the local API: USER_TYPE=admin|staff|customer [EMAIL=...]
	@$(BIN)/python -m local.token --user-type $(or $(USER_TYPE),admin) $(if $(EMAIL),--email $(EMAIL))

test: lint typecheck pytest ## Lint, type-check and run the whole test suite

pytest: $(STAMP) ## Run the test suite only
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, the migrations' SQL (squawk), the workflows (GitHub's schema, zizmor)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p build
	$(BIN)/alembic upgrade head --sql > build/migrations.sql
	$(BIN)/squawk build/migrations.sql
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --quiet --min-severity medium .github/workflows

typecheck: $(STAMP) ## mypy, strict on lambda_app/ and tools/
	$(BIN)/mypy

# make load's options, each passed only when set (the defaults live in local/load); TOKEN
# reaches it through the environment, never the command line.
LOAD_ARGS = $(if $(WORKERS),--workers $(WORKERS)) \
	$(if $(SERVER_CONNECTIONS),--server-connections $(SERVER_CONNECTIONS)) \
	$(if $(SECONDS),--seconds $(SECONDS)) $(if $(S3_DELAY_MS),--s3-delay-ms $(S3_DELAY_MS)) \
	$(if $(DB_DELAY_MS),--db-delay-ms $(DB_DELAY_MS)) $(if $(URL),--url '$(URL)') \
	$(if $(CLIENTS),--clients $(CLIENTS)) $(if $(READER),--reader) \
	$(if $(READER_CONNECTIONS),--reader-server-connections $(READER_CONNECTIONS)) \
	$(if $(REPLICA_LAG_MS),--replica-lag-ms $(REPLICA_LAG_MS))

load: $(STAMP) ## Lambda-like load: WORKERS= SERVER_CONNECTIONS= SECONDS= S3_DELAY_MS= DB_DELAY_MS= READER=1 READER_CONNECTIONS= REPLICA_LAG_MS=; or URL= TOKEN= CLIENTS=
	$(BIN)/python -m local.load $(strip $(LOAD_ARGS))

smoke: $(STAMP) ## After make deploy: URL= TOKEN= (an admin's) end-to-end check, then cleanup
	@$(BIN)/python -m local.smoke $(if $(URL),--url '$(URL)')

bench: $(STAMP) ## Benchmark app vs raw pg8000 vs empty FastAPI; writes bench/results.json, then make docs
	$(BIN)/python -m bench
	$(BIN)/python -m tools.docs

docs: $(STAMP) ## Regenerate the generated blocks of the docs and .env.example
	$(BIN)/python -m tools.docs

client: $(STAMP) ## Regenerate the typed Python client in clients/python from the served OpenAPI
	$(BIN)/python -m clients.openapi > clients/openapi.json
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/openapi-python-client generate --path clients/openapi.json \
		--output-path clients/python --overwrite --config clients/openapi-python-client.yaml

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the virtual environment, local data and build output
	rm -rf $(VENV) node_modules .local build cdk.out .pytest_cache .mypy_cache .ruff_cache

# --- infrastructure (AWS CDK in infra/; see infra/DEPLOY.md)
CDK := node_modules/.bin/cdk
NPM_STAMP := node_modules/.installed
# cdk.json runs the app with the venv's Python; no Docker, no AWS credentials needed to synth.
# ORIGINS: the browser origins of the stage (comma-separated); prod has no default.
# DATABASE: instance (default) or aurora (infra/DEPLOY.md, "The Aurora option").
CDK_ARGS := -c stage=$(STAGE) $(if $(ORIGINS),-c allowedOrigins=$(ORIGINS)) $(if $(DATABASE),-c database=$(DATABASE))

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

node_modules: $(NPM_STAMP) ## Install the pinned AWS CDK CLI (npm ci)

synth: $(STAMP) $(NPM_STAMP) ## Synthesise the stack into cdk.out/ (STAGE=dev|prod ORIGINS=...), cdk-nag and cfn-lint included
	rm -f cdk.out/*.template.json
	$(CDK) synth $(CDK_ARGS) --quiet
	$(BIN)/cfn-lint --config-file infra/cfn-lint.yaml cdk.out/*.template.json

package: $(STAMP) ## Build the Lambda bundle into build/lambda and print its unzipped and zipped size
	$(BIN)/python -m infra.bundling

preflight: $(STAMP) ## Read the account and region; refuse in seconds what STAGE's deploy would fail on
	$(BIN)/python -m infra.preflight $(CDK_ARGS)

deploy: preflight $(NPM_STAMP) ## Preflight, then deploy the stack for STAGE (AWS credentials, cdk bootstrap)
	$(CDK) deploy $(CDK_ARGS) --require-approval $(APPROVAL)

destroy: $(STAMP) $(NPM_STAMP) ## Delete the stack for STAGE (prod keeps its database and bucket)
	$(CDK) destroy $(CDK_ARGS)
