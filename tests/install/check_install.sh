#!/usr/bin/env bash
# tests/install/check_install.sh BUILD_DIR SOURCE_DIR: installs the built library into a scratch
# root (meson install --destdir), then builds tests/install/consumer.cpp outside the tree with
# `pkg-config --cflags --libs seqlab` and runs it. Proves the installed headers and seqlab.pc work,
# that every installed piece carries the same version, and that the converter and docs are there.
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
passed=0 failed=0
check() {  # check NAME COMMAND...: one counted result
  if "${@:2}"; then echo "ok   - $1"; passed=$((passed + 1)); else echo "FAIL - $1"; failed=$((failed + 1)); fi
}
check "the consumer program computes the closed-form value" \
  env LD_LIBRARY_PATH="$lib" "$root/consumer"
# One version everywhere: seqlab.pc, the installed CLI, the loaded library (the consumer prints
# library_version()) and the `created_by` attribute of a file the installed CLI writes.
version=$(pkg-config --modversion seqlab)
want=$(meson introspect --projectinfo "$build" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
exe=$(find "$root" -path '*/bin/seqlab' | head -n 1)
check "seqlab.pc has the project version ($want)" test "$version" = "$want"
check "the installed CLI says seqlab $want" \
  test "$(LD_LIBRARY_PATH=$lib "$exe" --version)" = "seqlab $want"
check "the loaded library says $want" \
  grep -qx "library_version() = $want" <(LD_LIBRARY_PATH=$lib "$root/consumer")
printf 'abcabcabd\n' >"$root/t.txt"
LD_LIBRARY_PATH=$lib "$exe" train --model markov --order 1 --data "$root/t.txt" --split all \
  --out "$root/m.h5" --quiet
check "a model file says created_by seqlab $want" grep -aq "seqlab $want" "$root/m.h5"
# The PyTorch converter and the documents are installed where docs/torch.md says.
# (Some pkg-config versions put the sysroot in front of variables, some do not.)
datadir=$(pkg-config --variable=pkgdatadir seqlab)
case $datadir in "$root"/*) ;; *) datadir=$root$datadir ;; esac
check "seqlab_torch.py is installed in pkgdatadir/torch" \
  python3 -m py_compile "$datadir/torch/seqlab_torch.py"
for doc in README.md formats.md torch.md; do
  check "$doc is installed in share/doc/seqlab" test -s "$(dirname "$datadir")/doc/seqlab/$doc"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
