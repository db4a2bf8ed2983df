#!/usr/bin/env bash
# Every check the project has: lint, format, types, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/services.sh
bash scripts/install-claude-cli.sh || { [ "${CI:-}" = "true" ] && exit 1; echo "Claude Code CLI not installed; its tests will skip" >&2; }
bash scripts/install-ccusage.sh >/dev/null || { [ "${CI:-}" = "true" ] && exit 1; echo "ccusage not installed; the usage comparison tests will skip" >&2; }
bash scripts/install-chromium.sh || { [ "${CI:-}" = "true" ] && exit 1; echo "Debian's chromium not installed; the dashboard's browser tests will skip" >&2; }

echo "== ruff"; $BIN/ruff check src tests bench; $BIN/ruff format --check src tests bench
echo "== mypy"; $BIN/mypy
echo "== pytest"
$BIN/python -m pytest -q -p no:cacheprovider "$@"
