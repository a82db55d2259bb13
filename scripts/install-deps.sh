#!/usr/bin/env bash
# scripts/install-deps.sh: installs the Debian 12 packages seqlab needs to build, test and run its
# demo. This is the ONE place they are listed. Installs only what is missing; needs root (or sudo)
# only when something is missing, and says so plainly.
#   scripts/install-deps.sh        what build, test and demo need
#   scripts/install-deps.sh fuzz   what `make fuzz` needs on top (clang 14, libFuzzer; the
#                                  sanitizer runtimes come with them)
set -euo pipefail

label=deps
PACKAGES=(
  g++ meson ninja-build pkg-config      # toolchain and build
  libarmadillo-dev libopenblas-dev      # linear algebra (Armadillo on OpenBLAS)
  libxsmm-dev                           # small-matrix kernels (recurrent steps)
  libhdf5-dev                           # model and results files (HDF5 C++ API)
  libboost-program-options-dev          # command line
  libtomlplusplus-dev                   # registry and experiment configs (toml++)
  libssl-dev                            # sha256 of dataset files (libcrypto)
  libcurl4-openssl-dev                  # dataset downloads
  catch2                                # tests (Catch2 v2)
  gnuplot-nox                           # figures
  python3                               # small helper scripts
  python3-h5py                          # tests read run and model files the way users do (h5py)
  chromium                              # tests: reports checked in a headless browser
  openmpi-bin libopenmpi-dev            # MPI: mpirun -n R seqlab train --model hmm (optional
                                        # feature -Dmpi=auto, found and tested when installed)
)
if [ "${1:-}" = fuzz ]; then
  label="fuzz deps"
  PACKAGES=(clang-14 libfuzzer-14-dev libclang-rt-14-dev)
elif [ $# -gt 0 ]; then
  echo "usage: $0 [fuzz]" >&2
  exit 2
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "$label: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

echo "$label: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "$label: installing packages needs root. Run as root or with sudo:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
