#!/usr/bin/env bash
# scripts/install-fuzz-deps.sh: the extra Debian 12 packages `make fuzz` needs (clang 14 and
# libFuzzer; the sanitizer runtimes come with them). Like install-deps.sh: installs only what is
# missing, and needs root (or sudo) only then.
set -euo pipefail

PACKAGES=(clang-14 libfuzzer-14-dev libclang-rt-14-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "fuzz deps: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

echo "fuzz deps: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "fuzz deps: installing packages needs root. Run as root or with sudo:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
