# The two commands of the README: `make run` and `make test`. Both set up .venv, the browser
# libraries (npm, copied into app/static/vendor) and the compiled message catalogs first; all idempotent.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := app/static/vendor
VENDOR_STAMP := $(VENDOR)/.installed
CATALOGS := $(patsubst %.po,%.mo,$(wildcard app/translations/*/LC_MESSAGES/messages.po))
HOST ?= 127.0.0.1
PORT ?= 5000
# make test ARGS="tests/test_lifecycle.py -k timer" runs a subset; BROWSER=0 skips the browser tests
# (only when asked: without Chromium `make test` installs it as root or stops with the command).
ARGS ?=
BROWSER ?= 1
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test setup bench clean translations audit

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# The designer's modeler bundle: our sources, built with esbuild by `npm run build`.
DESIGNER_SOURCES := $(wildcard assets/designer/*.js assets/designer/*.mjs assets/designer/*.css assets/designer/groups/*.js)

# Prebuilt distribution bundles, served from our own origin (no CDN), and the designer's modeler
# (bpmn-js + bpmn.io's properties panel + Bihuan's provider) bundled into $(VENDOR)/bihuan-modeler.
$(VENDOR_STAMP): package.json package-lock.json $(DESIGNER_SOURCES)
	test -d node_modules/bpmn-js-properties-panel -a -d node_modules/swagger-ui-dist -a -x node_modules/.bin/esbuild || npm ci --no-audit --no-fund
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/echarts $(VENDOR)/htmx $(VENDOR)/swagger-ui
	cp -r node_modules/bpmn-js/dist $(VENDOR)/bpmn-js
	cp -r node_modules/dmn-js/dist $(VENDOR)/dmn-js
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	npm run --silent build
	touch $(VENDOR_STAMP)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

setup: $(STAMP) $(VENDOR_STAMP) $(CATALOGS)

# babel.cfg's extractors (app/web/label_messages.py) import the app: this checkout's, not an installed one.
translations: $(STAMP)
	PYTHONPATH=. $(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -w 120 -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching -w 120

run: setup
	$(BIN)/bihuan db upgrade
	$(BIN)/bihuan demo seed
	$(BIN)/bihuan demo history --cases 3000 --months 6 --if-empty
	$(BIN)/bihuan serve --host $(HOST) --port $(PORT)

test: setup
ifeq ($(BROWSER),0)
	BIHUAN_BROWSER_TESTS=0 $(BIN)/python -m pytest $(ARGS)
else
	sh tests/browser/require_chromium.sh $(CHROMIUM)
	BIHUAN_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest $(ARGS)
endif

# The supply-chain gate (docs/security.md): pip-audit over constraints.txt and npm audit over the lock
# file, judged against deploy/audit-allowlist.toml. pip-audit has a venv of its own, so that its
# dependencies never mix with the application's.
AUDIT_VENV := .venv-audit
audit: setup
	test -x $(AUDIT_VENV)/bin/pip-audit || ($(PYTHON) -m venv $(AUDIT_VENV) && $(AUDIT_VENV)/bin/pip install --quiet pip-audit==2.10.1)
	$(BIN)/python deploy/dependency_audit.py --pip-audit $(AUDIT_VENV)/bin/pip-audit

bench: setup
	$(BIN)/python bench/lifecycle.py
	$(BIN)/python bench/worklist.py
	$(BIN)/python bench/weekly_report.py

clean:
	rm -rf $(VENV) $(AUDIT_VENV) instance build *.egg-info $(VENDOR) node_modules
