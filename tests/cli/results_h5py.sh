#!/usr/bin/env bash
# tests/cli/results_h5py.sh MAKE_RESULTS README_MD: the h5py example of the README ("Reading
# results from Python") runs on a results folder that make_results writes, and prints every field
# the document lists. Exit 77 (meson: SKIP) only where no python3 with h5py is installed
# (Debian package python3-h5py, which scripts/install-deps.sh installs).
set -u
make_results=$1
readme=$2
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

python=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import h5py' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "SKIPPED: no python3 with h5py (Debian package python3-h5py)"
  exit 77
fi

# The python block after the marker line, exactly as the document shows it.
awk '/<!-- tests\/cli\/results_h5py.sh runs the next block -->/ { found = 1; next }
     found && /^```python$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$readme" >"$tmp/example.py"
[ -s "$tmp/example.py" ] && ok "the example is in the README" || { bad "no example found in $readme"; finish; exit 1; }

"$make_results" "$tmp/results" >/dev/null || { bad "make_results failed"; finish; exit 1; }
hmm_run=
for f in "$tmp"/results/runs/*.h5; do
  if "$python" -c 'import h5py, sys; f = h5py.File(sys.argv[1]); sys.exit(0 if f.attrs["model_type"] == "hmm" else 1)' "$f"; then
    hmm_run=$f
    break
  fi
done
expect_ok "the example reads an HMM run file and results.h5" \
  "$python" "$tmp/example.py" "$hmm_run" "$tmp/results/results.h5"
cp "$tmp/out" "$tmp/printed"
[ -n "${SEQLAB_H5PY_VERBOSE:-}" ] && cat "$tmp/printed"

# every field the document lists is printed
expect_line() {  # expect_line REGEX: a line of the output matches
  if grep -Eq -- "$1" "$tmp/printed"; then ok "printed: $1"; else bad "not printed: $1"; fi
}
expect_line '^format 1 seqlab [0-9.]+$'
expect_line '^run_id [0-9a-f]{16}$'
expect_line '^label hmm N=2$'
expect_line '^model_type hmm$'
expect_line '^family HMM$'
expect_line '^dataset (casino|brackets)$'
expect_line '^seed [12]$'
expect_line '^unit symbol$'
expect_line '^setting model.states = 2$'
expect_line '^settings toml '
for key in blas blas_kernel commit compiler date host threads version; do expect_line "^environment $key "; done
expect_line '^history unit symbol$'
for column in epoch restart updates seconds train_nll valid_nll learning_rate gradient_norm \
  log_likelihood_change; do expect_line "^history $column \["; done
for key in parameters updates epochs wall_seconds floor_nats; do expect_line "^metric $key [0-9.e+-]+$"; done
for split in train valid test; do
  for name in log_likelihood steps sequences nats_per_step bits_per_step perplexity; do
    expect_line "^metric ${split}_$name [0-9.e+-]+$"
  done
done
expect_line '^sample [()$1-6]+$'
expect_line '^inspect transition \(2, 2\)$'
expect_line '^inspect posterior \(2, [0-9]+\)$'
expect_line '^inspect stretch '
expect_line "^model hmm \['alphabet', 'emission', 'initial', 'transition'\]$"
expect_line '^summary 1 runs 12$'
for column in run_id label model_type family dataset unit seed parameters updates epochs \
  wall_seconds floor_nats version commit threads date settings file; do
  expect_line "^column $column "
done
for split in train valid test; do
  for name in nats_per_step bits_per_step perplexity log_likelihood steps sequences; do
    expect_line "^column ${split}_$name "
  done
done
columns=$(grep -c '^column ' "$tmp/printed")
header=$(head -n 1 "$tmp/results/results.csv" | tr ',' '\n' | grep -c .)
[ "$columns" -eq "$header" ] && ok "results.h5 and results.csv have the same $columns columns" ||
  bad "results.h5 has $columns columns, results.csv $header"
finish
