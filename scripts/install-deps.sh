#!/usr/bin/env bash
# Installs the Debian 12 packages vmxsim needs (docs/architecture.md, "Dependencies").
# Idempotent and quick when everything is already there.
set -euo pipefail
packages=(cmake g++ make pkg-config libsystemc-dev libzydis-dev libboost-program-options-dev
          libgtest-dev pybind11-dev python3-dev python3-pytest python3-numpy python3-pandas
          python3-matplotlib python3-distributed)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
