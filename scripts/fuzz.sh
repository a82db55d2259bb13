#!/usr/bin/env bash
# scripts/fuzz.sh BUILD_DIR SECONDS TARGET...: runs each libFuzzer target of BUILD_DIR (built with
# -Dfuzz=true) for SECONDS, one after another, starting from its seed corpus in tests/fuzz/corpus/.
# New corpus entries go to BUILD_DIR/corpus-TARGET and findings (crash-*, timeout-*, oom-*,
# leak-*) to BUILD_DIR/findings-TARGET/, never into the source tree. A crash does not end the run
# (-fork=1 with -ignore_*): every finding of the whole period is kept. Triage: a seqlab bug is
# fixed and its input added to tests/fuzz/crashes/TARGET/ (replayed by `make test`).
set -euo pipefail

build=$1 seconds=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)

for t in "$@"; do
  exe="$build/tests/fuzz/fuzz_$t"
  corpus="$build/corpus-$t" findings="$build/findings-$t"
  mkdir -p "$corpus" "$findings"
  seeds=() max_len=4096
  if [ -d "$src/tests/fuzz/corpus/$t" ]; then seeds+=("$src/tests/fuzz/corpus/$t"); fi
  # Model files start from the model fixtures (10-14 KB each).
  if [ "$t" = model_file ]; then seeds+=("$src/tests/fixtures/models") max_len=32768; fi
  echo "fuzz: $t for $seconds s (corpus $corpus, findings $findings)"
  LSAN_OPTIONS="suppressions=$src/tests/fuzz/lsan.supp:print_suppressions=0" \
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    "$exe" "$corpus" "${seeds[@]}" -max_total_time="$seconds" -fork=1 \
      -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -max_len="$max_len" -artifact_prefix="$findings/" -print_final_stats=1 \
      2>&1 | tee "$build/fuzz-$t.log" | grep -E '^(#|INFO: exiting|==|SUMMARY|fuzz|stat::)' || true
done
