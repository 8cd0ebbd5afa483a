#!/usr/bin/env bash
# Sets memcosim up on a fresh Debian machine: ngspice from Debian (apt-get when root), then a
# virtual environment in .venv with memcosim and its test tools installed (editable).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-python3}
apt_packages=()
command -v ngspice >/dev/null 2>&1 || apt_packages+=(ngspice)
# PySpice dlopens the unversioned libngspice.so, which only libngspice0-dev provides.
ldconfig -p 2>/dev/null | grep -q 'libngspice\.so ' || apt_packages+=(libngspice0 libngspice0-dev)
"$python" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_packages+=(python3-venv)

if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${apt_packages[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages first (as root): apt-get install ${apt_packages[*]}" >&2
    exit 1
  fi
fi

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: memcosim needs Python >= 3.11; $("$python" --version 2>&1) found (set PYTHON=...)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.memcosim-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c 'import memcosim.devices' 2>/dev/null; then
  echo "setup: installing memcosim into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import memcosim.devices' || { echo "setup: install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
echo "setup: ready (.venv/bin/memcosim)"
