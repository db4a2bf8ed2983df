#!/usr/bin/env bash
# Debian's chromium package for the dashboard's browser tests (tests/web/test_browser.py).
#
# Playwright for Python (a dev dependency, from requirements.lock) drives it with
# executable_path=/usr/bin/chromium; no browser build is ever downloaded by Playwright.
# Idempotent: returns at once when /usr/bin/chromium is there. Needs root (or password-less
# sudo) and apt-get; runs `apt-get update` only when the install fails without it.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
[[ -x "$CHROMIUM" ]] && exit 0

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-chromium: not root; install Debian's chromium package (apt-get install chromium)" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get here; install a chromium at $CHROMIUM" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq chromium >/dev/null 2>&1; then
  echo "install-chromium: apt-get update, then installing chromium" >&2
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
[[ -x "$CHROMIUM" ]] || { echo "install-chromium: $CHROMIUM is still missing" >&2; exit 1; }
"$CHROMIUM" --version 2>/dev/null | head -1 >&2 || true
