#!/usr/bin/env bash
# Install the pinned Claude Code CLI into a project-local, gitignored folder for the tests.
#
#   scripts/install-claude-cli.sh          # installs (or confirms) the pinned version
#   CLAUDE_CLI_VERSION=2.1.197 CLAUDE_CLI_DIR=/some/dir scripts/install-claude-cli.sh
#
# Prints the path of the native `claude` binary on its last line.
#
# Only the npm registry is contacted: the package's own postinstall (install.cjs) is skipped
# (--ignore-scripts) and replaced by the one thing it does, hard-linking the native binary that
# npm already fetched as the platform optional dependency (@anthropic-ai/claude-code-<platform>)
# over the bin/claude.exe placeholder. No lockfile is written or committed (--no-package-lock).
# Idempotent: when the right version is already there it returns in well under a second.
set -euo pipefail

VERSION="${CLAUDE_CLI_VERSION:-2.1.197}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${CLAUDE_CLI_DIR:-$ROOT/.cache/claude-cli}"
PKG_DIR="$DEST/node_modules/@anthropic-ai/claude-code"
BIN="$PKG_DIR/bin/claude.exe"

installed_ok() {
  [[ -x "$BIN" ]] || return 1
  # The placeholder stub is a tiny shell script; the real binary is hundreds of MB.
  [[ "$(wc -c <"$BIN")" -gt 1000000 ]] || return 1
  local out
  out="$("$BIN" --version 2>/dev/null)" || return 1
  [[ "$out" == "$VERSION "* ]]
}

if installed_ok; then
  echo "$BIN"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-claude-cli: npm not found; install Node.js (>= 18) and npm first," \
    "e.g. 'apt-get install -y nodejs npm'" >&2
  exit 2
fi

mkdir -p "$DEST"
# Serialize concurrent installs (e.g. parallel test sessions) when flock exists.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DEST/.install.lock"
  flock 9
  if installed_ok; then
    echo "$BIN"
    exit 0
  fi
fi

echo "install-claude-cli: installing @anthropic-ai/claude-code@$VERSION into $DEST" >&2
npm install \
  --prefix "$DEST" \
  --no-save --no-package-lock --ignore-scripts \
  --include=optional --no-audit --no-fund --loglevel=error \
  "@anthropic-ai/claude-code@$VERSION" >&2

# Pick the native binary npm installed for this platform (npm filters the optional
# dependencies by os/cpu/libc, so normally exactly one is present).
shopt -s nullglob
candidates=("$DEST"/node_modules/@anthropic-ai/claude-code-*/claude)
shopt -u nullglob
if [[ ${#candidates[@]} -eq 0 ]]; then
  echo "install-claude-cli: no native binary package for $(uname -s)-$(uname -m) was installed" >&2
  exit 3
fi
native="${candidates[0]}"
if [[ ${#candidates[@]} -gt 1 ]]; then
  # Prefer the glibc build unless this is a musl system.
  for c in "${candidates[@]}"; do
    if ldd --version 2>&1 | grep -qi musl; then
      [[ "$c" == *-musl/claude ]] && native="$c"
    else
      [[ "$c" != *-musl/claude ]] && native="$c"
    fi
  done
fi
ln -f "$native" "$BIN" 2>/dev/null || cp -f "$native" "$BIN"
chmod 0755 "$BIN"

if ! installed_ok; then
  echo "install-claude-cli: installed, but '$BIN --version' does not report $VERSION" >&2
  exit 4
fi
echo "$BIN"
