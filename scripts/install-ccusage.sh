#!/usr/bin/env bash
# Install the pinned ccusage (the reference for `prism usage`) into a project-local, gitignored
# folder for the tests and the import benchmark.
#
#   scripts/install-ccusage.sh          # installs (or confirms) the pinned version
#   CCUSAGE_VERSION=20.0.24 CCUSAGE_DIR=/some/dir scripts/install-ccusage.sh
#
# Prints the path of the native `ccusage` binary on its last line.
#
# 20.0.24 is the newest release whose linux-x64 native binary is published. Only the npm
# registry is contacted: install scripts are skipped (--ignore-scripts) and the native binary
# that npm fetched as the platform optional dependency (@ccusage/ccusage-<platform>) is called
# directly, so Node.js is not on the measured path. No lockfile is written (--no-package-lock).
# Idempotent: when the right version is already there it returns in well under a second.
set -euo pipefail

VERSION="${CCUSAGE_VERSION:-20.0.24}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${CCUSAGE_DIR:-$ROOT/.cache/ccusage}"
LINK="$DEST/ccusage"

installed_ok() {
  [[ -x "$LINK" ]] || return 1
  local out
  out="$("$LINK" --version 2>/dev/null)" || return 1
  [[ "$out" == *"$VERSION"* ]]
}

if installed_ok; then
  echo "$LINK"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-ccusage: npm not found; install Node.js (>= 18) and npm first," \
    "e.g. 'apt-get install -y nodejs npm'" >&2
  exit 2
fi

mkdir -p "$DEST"
# Serialize concurrent installs (e.g. parallel test sessions) when flock exists.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DEST/.install.lock"
  flock 9
  if installed_ok; then
    echo "$LINK"
    exit 0
  fi
fi

echo "install-ccusage: installing ccusage@$VERSION into $DEST" >&2
npm install \
  --prefix "$DEST" \
  --no-save --no-package-lock --ignore-scripts \
  --include=optional --no-audit --no-fund --loglevel=error \
  "ccusage@$VERSION" >&2
# npm still leaves its hidden lockfile (registry URLs) in node_modules: not kept.
rm -f "$DEST/node_modules/.package-lock.json"

# The native binary of this platform (npm filters optional dependencies by os/cpu).
shopt -s nullglob
candidates=("$DEST"/node_modules/@ccusage/ccusage-*/bin/ccusage "$DEST"/node_modules/@ccusage/ccusage-*/ccusage)
shopt -u nullglob
if [[ ${#candidates[@]} -eq 0 ]]; then
  echo "install-ccusage: no native binary package for $(uname -s)-$(uname -m) was installed" >&2
  exit 3
fi
chmod 0755 "${candidates[0]}"
ln -sf "${candidates[0]}" "$LINK"

if ! installed_ok; then
  echo "install-ccusage: installed, but '$LINK --version' does not report $VERSION" >&2
  exit 4
fi
echo "$LINK"
