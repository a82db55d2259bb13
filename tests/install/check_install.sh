#!/usr/bin/env bash
# tests/install/check_install.sh BUILD_DIR SOURCE_DIR: installs the built library into a scratch
# root (meson install --destdir), then builds tests/install/consumer.cpp outside the tree with
# `pkg-config --cflags --libs seqlab` and runs it. Proves the installed headers and seqlab.pc work.
set -euo pipefail
build=$1
src=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null
pc=$(find "$root" -name seqlab.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: seqlab.pc was not installed"; exit 1; }
lib=$(dirname "$(find "$root" -name 'libseqlab.so*' | head -n 1)")

export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs seqlab)
echo "pkg-config --cflags --libs seqlab: $flags"
cp "$src/tests/install/consumer.cpp" "$root/consumer.cpp"
(cd "$root" && g++ -std=c++20 -Wall -Wextra -Werror consumer.cpp $flags -o consumer)
if LD_LIBRARY_PATH=$lib "$root/consumer"; then
  echo "1 passed, 0 failed"
else
  echo "FAIL: the consumer program built but computed a wrong value"
  echo "0 passed, 1 failed"
  exit 1
fi
