# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up on the way.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test setup index browser servers cluster screenshots bench clean

run: setup index
	$(BIN)/python app.py

test: setup browser servers
	$(BIN)/python -m pytest
	$(BIN)/python -m eval check
	$(BIN)/python -m eval check eval/real/*.jsonl --thresholds eval/real/thresholds.yaml

setup: $(STAMP)

# Reinstall only when the pins change. torch comes first and pinned, so nothing pulls a CUDA build.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# Incremental: unchanged documents are neither re-read into the index nor re-embedded.
index: setup
	$(BIN)/python -m ingest

# Debian's Chromium for the browser tests (never a browser download from a test tool).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# Debian's PostgreSQL and nginx for the scale-out tests and `make cluster` (the tests start their own throwaway
# servers on loopback; nothing here configures or starts the system-wide ones).
servers:
	@(ls /usr/lib/postgresql/*/bin/initdb && test -x /usr/sbin/nginx) >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql nginx >/dev/null)

# PostgreSQL, chroma run, WORKERS app workers and nginx on loopback (benchmarks/cluster.py); Ctrl-C stops them.
WORKERS ?= 2
cluster: setup servers
	$(BIN)/python -m benchmarks.cluster --workers $(WORKERS)

# The README's UI screenshots (docs/*.png), taken by the browser tests; `make test` writes them to a tmp folder.
screenshots: setup browser
	$(BIN)/python -m pytest tests/web/test_web_browser.py tests/staff/test_staff_browser.py --screenshots docs

bench: setup index
	$(BIN)/python -m benchmarks.latency
	$(BIN)/python -m benchmarks.ingest_throughput --docs 500

clean:
	rm -rf $(VENV) data reports
