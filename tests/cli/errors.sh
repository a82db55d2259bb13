#!/usr/bin/env bash
# tests/cli/errors.sh SEQLAB FIXTURES: the train/eval/sample commands end to end, and every bad
# input of the foundation issue: each must give ONE line on stderr naming the file/option and what
# was expected, exit code 1, and must not overwrite a good result.
set -u
seqlab=$1
fixtures=$2/cli
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

model=$tmp/tiny.h5
expect_ok "train a char-level KN model on a file" \
  "$seqlab" train --model markov --order 2 --data "$fixtures/tiny.txt" --split all --out "$model" --quiet
cp "$model" "$tmp/good.h5"
expect_ok "eval --json" "$seqlab" eval --model "$model" --data "$fixtures/tiny_eval.txt" --split all --json
if tail -n 1 "$tmp/out" | grep -Eq '^\{.*"nll_bits": [0-9.]+.*"perplexity": [0-9.]+.*\}$'; then
  ok "eval --json prints one JSON object on the last line"
else
  bad "eval --json last line: $(tail -n 1 "$tmp/out")"
fi
expect_ok "sample with a prime" "$seqlab" sample --model "$model" --length 20 --seed 3 --prime "the "
if head -c 4 "$tmp/out" | grep -q "the "; then ok "sample starts with the prime"; else bad "sample output: $(cat "$tmp/out")"; fi
"$seqlab" sample --model "$model" --length 50 --seed 3 >"$tmp/s1"
"$seqlab" sample --model "$model" --length 50 --seed 3 >"$tmp/s2"
if cmp -s "$tmp/s1" "$tmp/s2"; then ok "same seed, same sample"; else bad "same seed gave different samples"; fi

# An HMM end to end: train, score, decode (one path line per sequence, one state per symbol).
hmm=$tmp/hmm.h5
expect_ok "train a 2-state HMM" "$seqlab" train --model hmm --states 2 --restarts 2 --data "$fixtures/tiny.txt" \
  --split all --out "$hmm" --quiet
expect_ok "eval the HMM" "$seqlab" eval --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --json
# eval --per-sequence: one log-likelihood per sequence, summing to the total (the casino set's
# test split holds several sequences); a table without --json.
"$seqlab" train --model hmm --states 2 --max-iter 5 --data casino --out "$tmp/casino.h5" --quiet
expect_ok "eval --per-sequence --json" "$seqlab" eval --model "$tmp/casino.h5" --data casino --per-sequence --json
if tail -n 1 "$tmp/out" | python3 -c '
import json, math, sys
j = json.loads(sys.stdin.read())
items = j["per_sequence"]
assert len(items) == j["sequences"] > 1, (len(items), j["sequences"])
assert [i["sequence"] for i in items] == list(range(len(items)))
assert sum(i["symbols"] for i in items) == j["symbols"]
total = math.fsum(i["log_likelihood"] for i in items)
assert abs(total - j["log_likelihood"]) <= 1e-9 * abs(total), (total, j["log_likelihood"])
' 2>"$tmp/py"; then
  ok "eval --per-sequence --json: per-sequence log-likelihoods sum to the total"
else
  bad "eval --per-sequence --json: $(cat "$tmp/py") $(tail -n 1 "$tmp/out" | head -c 300)"
fi
expect_ok "eval --per-sequence table" "$seqlab" eval --model "$tmp/casino.h5" --data casino --per-sequence
if grep -Eq '^ +0 +[0-9]+ +-[0-9.e+]+ +[0-9.]+ +[0-9.]+$' "$tmp/out" && grep -q "bits/step" "$tmp/out"; then
  ok "eval --per-sequence prints a table with nats and bits per step"
else
  bad "eval --per-sequence table: $(head -c 400 "$tmp/out")"
fi
# --precision float32: Baum-Welch in float recursions with double sums; the model it writes
# scores within 1e-5 of the float64 one trained from the same seed, and a bad value is one line.
"$seqlab" train --model hmm --states 3 --max-iter 10 --tol 0 --data casino --seed 4 --out "$tmp/c64.h5" --quiet
expect_ok "train --precision float32" "$seqlab" train --model hmm --states 3 --max-iter 10 --tol 0 \
  --data casino --seed 4 --precision float32 --out "$tmp/c32.h5" --quiet
"$seqlab" eval --model "$tmp/c64.h5" --data casino --json >"$tmp/e64"
"$seqlab" eval --model "$tmp/c32.h5" --data casino --json >"$tmp/e32"
if python3 -c '
import json, sys
a = json.loads(open(sys.argv[1]).read().splitlines()[-1])["log_likelihood"]
b = json.loads(open(sys.argv[2]).read().splitlines()[-1])["log_likelihood"]
assert abs(a - b) <= 1e-5 * abs(a), (a, b)
' "$tmp/e64" "$tmp/e32" 2>"$tmp/py"; then
  ok "a float32-trained HMM scores like the float64 one (1e-5 relative)"
else
  bad "float32 vs float64 model: $(cat "$tmp/py")"
fi
expect_error "--precision float16" "train: --precision must be float64 or float32, got .float16.$" \
  "$seqlab" train --model hmm --states 2 --data casino --precision float16 --out "$tmp/x.h5"
expect_error "--precision with Gaussian emissions" "train: --precision applies to --emission categorical only" \
  "$seqlab" train --model hmm --states 2 --emission gaussian --data "$fixtures/hmm_frames/vectors.csv" \
  --precision float32 --out "$tmp/x.h5"
expect_ok "decode --viterbi" "$seqlab" decode --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --viterbi
if [ "$(wc -l <"$tmp/out")" -eq 1 ] && [ "$(wc -w <"$tmp/out")" -eq "$(wc -m <"$fixtures/tiny_eval.txt")" ]; then
  ok "decode prints one state per symbol"
else
  bad "decode output: $(head -c 200 "$tmp/out")"
fi
expect_ok "decode --posterior --json" "$seqlab" decode --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --posterior --json
if grep -Eq '^\{"sequence": 0, "log_likelihood": -[0-9.e+]+, "states": \[[01](,[01])*\]\}$' "$tmp/out"; then
  ok "decode --json prints the path as JSON"
else
  bad "decode --json output: $(head -c 200 "$tmp/out")"
fi
expect_ok "decode --out writes the paths as HDF5" "$seqlab" decode --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --out "$tmp/paths.h5"
if [ "$(head -c 4 "$tmp/paths.h5" | tail -c 3)" = "HDF" ] && grep -q "Viterbi paths to" "$tmp/out"; then
  ok "decode --out file is HDF5"
else
  bad "decode --out did not write an HDF5 file"
fi
expect_error "decode --out into a missing directory" "output directory .* does not exist" \
  "$seqlab" decode --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --out "$tmp/no/such/paths.h5"
expect_error "decode needs an HMM" "expected an HMM" \
  "$seqlab" decode --model "$model" --data "$fixtures/tiny_eval.txt" --split all
expect_error "--states 0" "--states must be between 1 and 100000, got 0" \
  "$seqlab" train --model hmm --states 0 --data "$fixtures/tiny.txt" --out "$tmp/m.h5"

for cmd in train eval sample decode; do
  expect_ok "$cmd --help" "$seqlab" "$cmd" --help
done

# --- bad input -------------------------------------------------------------------------------
expect_error "missing data file" "no-such-file\.txt: data file does not exist" \
  "$seqlab" train --model markov --data "$tmp/no-such-file.txt" --out "$tmp/m.h5"
expect_error "empty data file" "empty\.txt.*empty" \
  "$seqlab" train --model markov --data "$fixtures/empty.txt" --out "$tmp/m.h5"
expect_error "directory as data file" "directory" \
  "$seqlab" train --model markov --data "$fixtures" --reader text --out "$tmp/m.h5"
expect_error "unknown dataset suggests the nearest" "did you mean 'tinyshakespeare'" \
  "$seqlab" train --model markov --data tinyshakspeare --out "$tmp/m.h5"
expect_error "invalid UTF-8" "bad_utf8\.txt:1:9: .*UTF-8" \
  "$seqlab" train --model markov --data "$fixtures/bad_utf8.txt" --out "$tmp/m.h5"
printf 'ab\ncd\0e\n' >"$tmp/nul.txt"
expect_error "NUL byte in text" "nul\.txt:2:3: NUL byte \(0x00\) is not allowed in text$" \
  "$seqlab" train --model markov --data "$tmp/nul.txt" --split all --out "$tmp/nul.h5"
if [ -e "$tmp/nul.h5" ]; then bad "a refused training run left a model file"; else ok "no model file after the NUL refusal"; fi
expect_error "symbol outside the model's alphabet" "outside_alphabet\.txt:1:23: .*'!'.*alphabet" \
  "$seqlab" eval --model "$model" --data "$fixtures/outside_alphabet.txt" --split all
expect_error "--order -1" "--order must be between 0 and [0-9]+, got -1" \
  "$seqlab" train --model markov --order -1 --data "$fixtures/tiny.txt" --out "$tmp/m.h5"
expect_error "--order 100000" "--order must be between 0 and [0-9]+, got 100000" \
  "$seqlab" train --model markov --order 100000 --data "$fixtures/tiny.txt" --out "$tmp/m.h5"
expect_error "output in a missing directory" "missing-dir.*does not exist" \
  "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/missing-dir/m.h5"
expect_error "unknown option" "unrecognised option '--ordr'|unrecognized option '--ordr'" \
  "$seqlab" train --model markov --ordr 3 --data "$fixtures/tiny.txt" --out "$tmp/m.h5"
expect_error "unknown model type" "unknown --model 'mrkov'" \
  "$seqlab" train --model mrkov --data "$fixtures/tiny.txt" --out "$tmp/m.h5"
expect_error "unknown split" "expected train, valid, test or all" \
  "$seqlab" eval --model "$model" --data "$fixtures/tiny.txt" --split dev
expect_error "unknown command" "unknown command 'trian'" "$seqlab" trian

# Model files that are not what they should be.
printf 'not a model\n' >"$tmp/text.h5"
expect_error "non-HDF5 model file" "text\.h5: not an HDF5 file" \
  "$seqlab" eval --model "$tmp/text.h5" --data "$fixtures/tiny.txt"
head -c 1500 "$model" >"$tmp/truncated.h5"
expect_error "truncated model file" "truncated\.h5: .*(corrupt|truncated)" \
  "$seqlab" eval --model "$tmp/truncated.h5" --data "$fixtures/tiny.txt"
expect_error "missing model file" "nope\.h5.*does not exist" \
  "$seqlab" eval --model "$tmp/nope.h5" --data "$fixtures/tiny.txt"
expect_error "model path is a directory" "directory" \
  "$seqlab" eval --model "$tmp" --data "$fixtures/tiny.txt"

# A failed train must not touch an existing model file at --out.
cp "$tmp/good.h5" "$tmp/keep.h5"
"$seqlab" train --model markov --data "$fixtures/bad_utf8.txt" --out "$tmp/keep.h5" >/dev/null 2>&1
if cmp -s "$tmp/good.h5" "$tmp/keep.h5"; then ok "failed train leaves the previous model file intact"
else bad "failed train changed the existing model file"; fi

# sha256 mismatch: a mirror with a corrupted tinyshakespeare.
mkdir -p "$tmp/mirror/tinyshakespeare"
printf 'Not Shakespeare.\n' >"$tmp/mirror/tinyshakespeare/input.txt"
SEQLAB_DATA_PATH=$tmp/mirror SEQLAB_CACHE_DIR=$tmp/cache expect_error "sha256 mismatch" "input\.txt: sha256 mismatch" \
  "$seqlab" train --model markov --data tinyshakespeare --out "$tmp/m.h5"

# An HMM without pseudo-counts gives an unseen symbol probability 0: eval says where and why.
printf 'abababababababababababababababab\nababababababababababababababac\n' >"$tmp/unseen.txt"
"$seqlab" train --model hmm --states 2 --data "$tmp/unseen.txt" --out "$tmp/unseen.h5" --quiet
if "$seqlab" eval --model "$tmp/unseen.h5" --data "$tmp/unseen.txt" --split test >"$tmp/out" 2>"$tmp/err" &&
   grep -q "inf nats/symbol" "$tmp/out" && grep -q "step 2 has probability 0.*--pseudo-count" "$tmp/err"; then
  ok "an infinite NLL comes with a warning naming the step and the remedy"
else
  bad "an infinite NLL comes with a warning naming the step and the remedy"
fi

# One rule for options: given for a model type they do not apply to, they are a usage error naming
# the option and the type (they used to be ignored silently).
t=$fixtures/tiny.txt
expect_error "--states for a Markov chain" "^seqlab: error: train: --states applies to --model hmm only \(got --model markov\)$" \
  "$seqlab" train --model markov --states 4 --data "$t" --out "$tmp/m.h5"
expect_error "--order for an LSTM" "train: --order applies to --model markov or crbm only \(got --model lstm\)" \
  "$seqlab" train --model lstm --order 9 --data "$t" --out "$tmp/m.h5"
expect_error "--restarts for an LSTM" "train: --restarts applies to --model hmm only \(got --model lstm\)" \
  "$seqlab" train --model lstm --restarts 5 --data "$t" --out "$tmp/m.h5"
expect_error "--pseudo-count for a Markov chain" "train: --pseudo-count applies to --model hmm only \(got --model markov\)" \
  "$seqlab" train --model markov --pseudo-count 0.1 --data "$t" --out "$tmp/m.h5"
expect_error "--alpha for an HMM" "train: --alpha applies to --model markov only \(got --model hmm\)" \
  "$seqlab" train --model hmm --alpha 0.5 --data "$t" --out "$tmp/m.h5"
expect_error "--task for a Jordan network" "train: --task applies to --model rnn, leaky, lstm or gru only \(got --model jordan\)" \
  "$seqlab" train --model jordan --task classify --data patterns --out "$tmp/m.h5"
expect_error "--lr-gamma without a schedule that uses it" \
  "train: --lr-gamma applies to --schedule step or plateau only \(got --schedule constant\)" \
  "$seqlab" train --model lstm --lr-gamma 0.3 --data "$t" --out "$tmp/m.h5"
expect_error "--reader with a registry name" "train: --reader applies to data files; 'casino' is a registry dataset" \
  "$seqlab" train --model markov --data casino --reader csv --out "$tmp/m.h5"
expect_error "--reader-option with a registry name" "eval: --reader-option applies to data files; 'casino' is a registry dataset" \
  "$seqlab" eval --model "$model" --data casino --reader-option level=token
expect_error "an extra positional argument" "train: unexpected argument 'extra'" \
  "$seqlab" train --model markov --data "$t" --out "$tmp/m.h5" extra
expect_error "an extra positional argument to eval" "eval: unexpected argument 'test'" \
  "$seqlab" eval --model "$model" --data "$t" test
expect_error "--patience without a valid split" "train: --patience needs a valid split, and training on split 'all' of dataset 'tiny\.txt' has none" \
  "$seqlab" train --model lstm --patience 2 --data "$t" --split all --out "$tmp/m.h5"
expect_error "--schedule plateau without a valid split" "train: --schedule plateau follows the valid NLL" \
  "$seqlab" train --model gru --schedule plateau --data "$t" --split all --out "$tmp/m.h5"
[ ! -e "$tmp/m.h5" ] && ok "no usage error wrote a model" || bad "a usage error left $tmp/m.h5"

# --threads is a signed number within 1 .. 4 x the cores (it used to wrap -1 to 4294967295 and
# hang, and 10000 ended in std::terminate).
for threads in -1 0 10000; do
  expect_error "--threads $threads" "^seqlab: error: train: --threads must be between 1 and [0-9]+ \(4 x this machine's cores\), got $threads$" \
    "$seqlab" train --model markov --threads "$threads" --data "$t" --out "$tmp/m.h5"
done
expect_error "--threads that is not a number" "train: .*--threads" \
  "$seqlab" train --model markov --threads many --data "$t" --out "$tmp/m.h5"

# Hostile sizes are refused before anything is allocated, with the estimate (they used to end in
# std::bad_alloc, exit 2). SEQLAB_MEMORY_LIMIT makes the limit the same on every machine.
SEQLAB_MEMORY_LIMIT=16G expect_error "--states 100000" "^seqlab: error: hmm: states = 100000 \(an N x N transition matrix .*\) needs at least 74\.5 GiB of memory, more than the" \
  "$seqlab" train --model hmm --states 100000 --data casino --out "$tmp/m.h5"
SEQLAB_MEMORY_LIMIT=16G expect_error "--hidden 100000000" "lstm: hidden = 100000000, layers = 1 \(at least .* parameters\) needs at least .* of memory" \
  "$seqlab" train --model lstm --hidden 100000000 --data casino --out "$tmp/m.h5"
SEQLAB_MEMORY_LIMIT=16G expect_error "--layers 1000000" "lstm: hidden = 128, layers = 1000000 \(at least 131,071,968,448 parameters\) needs at least 976\.6 GiB" \
  "$seqlab" train --model lstm --layers 1000000 --data casino --out "$tmp/m.h5"
SEQLAB_MEMORY_LIMIT=100M expect_error "Baum-Welch beyond the memory limit" \
  "hmm: Baum-Welch with states = 3000 on 50 sequences needs at least 755\.9 MiB of memory, more than the 100\.0 MiB available \(SEQLAB_MEMORY_LIMIT\)" \
  "$seqlab" train --model hmm --states 3000 --data casino --out "$tmp/m.h5"
SEQLAB_MEMORY_LIMIT=64M expect_error "RNN training beyond the memory limit" \
  "gru: training with hidden = 1500, layers = 1, window = 300, batch = 32 on 1 thread\(s\) needs at least .* more than the 64\.0 MiB available" \
  "$seqlab" train --model gru --hidden 1500 --window 0 --data casino --out "$tmp/m.h5"
SEQLAB_MEMORY_LIMIT=lots expect_error "a malformed SEQLAB_MEMORY_LIMIT" "SEQLAB_MEMORY_LIMIT: expected a positive number of bytes" \
  "$seqlab" train --model hmm --states 2 --data casino --out "$tmp/m.h5"

# sample -> file -> eval round-trips: no newline is added to a file (the model's alphabet may not
# have one); a terminal still gets its final newline.
printf 'abcabbcacbabcabcaabc' >"$tmp/no_newline.txt"
"$seqlab" train --model markov --order 1 --data "$tmp/no_newline.txt" --split all --out "$tmp/abc.h5" --quiet
"$seqlab" sample --model "$tmp/abc.h5" --length 30 --seed 2 >"$tmp/s.txt"
if [ "$(wc -c <"$tmp/s.txt")" -eq 30 ]; then ok "sample to a file prints exactly the 30 symbols"; else bad "sample file: $(od -c "$tmp/s.txt" | tail -n 3)"; fi
expect_ok "the sample reads back with eval" "$seqlab" eval --model "$tmp/abc.h5" --data "$tmp/s.txt" --split all
if command -v script >/dev/null 2>&1; then
  script -qec "'$seqlab' sample --model '$tmp/abc.h5' --length 30 --seed 2" /dev/null >"$tmp/tty" 2>&1
  if [ "$(tr -d '\r' <"$tmp/tty" | head -c 30)" = "$(cat "$tmp/s.txt")" ] && [ "$(tr -d '\r' <"$tmp/tty" | wc -l)" -eq 1 ]; then
    ok "sample on a terminal prints the same symbols and a final newline"
  else
    bad "sample on a terminal: $(od -c "$tmp/tty" | head -n 3)"
  fi
fi

# Every numeric option is range-checked before any work, naming it.
expect_error "--alpha 1e308" "^seqlab: error: train: --alpha must be a number in \(0, 1e\+06\], got 1e\+308$" \
  "$seqlab" train --model markov --smoothing add --alpha 1e308 --data "$t" --out "$tmp/m.h5"
expect_error "--alpha with Kneser-Ney" "train: --alpha applies to --smoothing add only \(got --smoothing kn\)" \
  "$seqlab" train --model markov --alpha 0.5 --data "$t" --out "$tmp/m.h5"
expect_error "--pseudo-count inf" "train: --pseudo-count must be a number in \[0, 1e\+06\], got inf" \
  "$seqlab" train --model hmm --pseudo-count inf --data "$t" --out "$tmp/m.h5"
expect_error "--tol inf" "train: --tol must be a number in \[0, 1e\+300\], got inf" \
  "$seqlab" train --model hmm --tol inf --data "$t" --out "$tmp/m.h5"
expect_error "--variance-floor 1e308" "train: --variance-floor must be a number in \(0, 1e\+100\], got 1e\+308" \
  "$seqlab" train --model hmm --emission gaussian --variance-floor 1e308 --data adding --out "$tmp/m.h5"
expect_error "--restarts 1e11" "train: --restarts must be between 1 and 10000, got 100000000000" \
  "$seqlab" train --model hmm --restarts 100000000000 --data "$t" --out "$tmp/m.h5"
expect_error "--epochs 1e14" "train: --epochs must be between 0 and 1000000000, got 100000000000000" \
  "$seqlab" train --model lstm --epochs 100000000000000 --data "$t" --out "$tmp/m.h5"
expect_error "--seed -1" "train: --seed must be an integer between 0 and 18446744073709551615, got '-1'" \
  "$seqlab" train --model markov --seed -1 --data "$t" --out "$tmp/m.h5"
expect_error "--seed 2^64" "sample: --seed must be an integer between 0 and 18446744073709551615, got '18446744073709551616'" \
  "$seqlab" sample --model "$model" --length 3 --seed 18446744073709551616
# --epochs 0 saves the initial network: its training NLL was never measured, and says so.
"$seqlab" train --model lstm --hidden 4 --epochs 0 --data casino --out "$tmp/e0.h5" --json >"$tmp/out" 2>"$tmp/err"
if grep -q "^train NLL  *not measured: no training epoch ran" "$tmp/out" && ! grep -q "0\.000000 nats" "$tmp/out" &&
   tail -n 1 "$tmp/out" | grep -q '"train_epoch_nll_nats": null'; then
  ok "--epochs 0 reports no training NLL instead of 0"
else
  bad "--epochs 0 output: $(head -c 300 "$tmp/out")"
fi

# Help says what exists and offers only what does something.
"$seqlab" --help >"$tmp/help" 2>&1
if grep -q "datasets .*list, info, fetch, verify, true-model, floor" "$tmp/help" && ! grep -q describe "$tmp/help"; then
  ok "top-level help lists the datasets subcommands that exist"
else
  bad "top-level help: $(grep datasets "$tmp/help")"
fi
"$seqlab" bench --help >"$tmp/help" 2>&1
if grep -q "blas|hmm|rnn|rbm" "$tmp/help"; then ok "bench usage names rnn and rbm"; else bad "bench usage: $(head -n 1 "$tmp/help")"; fi
for what in blas hmm rnn rbm; do
  "$seqlab" bench "$what" --help >"$tmp/help" 2>&1
  if [ "$(grep -c "seqlab bench $what" "$tmp/help")" -eq 1 ]; then ok "bench $what usage line is not doubled"
  else bad "bench $what usage: $(head -n 1 "$tmp/help")"; fi
done
# Honest ceilings: on a CPU with AVX-512, OPENBLAS_CORETYPE=Haswell pins OpenBLAS to AVX2; the
# bench says so in one warning line with the rate measured without it, and --fair-blas runs
# without it. (Skipped where the CPU has nothing wider than the pinned kernel.)
if grep -qw avx512f /proc/cpuinfo; then
  OPENBLAS_CORETYPE=Haswell "$seqlab" bench blas --size 256 --threads 1 --precision float \
    >"$tmp/out" 2>"$tmp/err"
  if [ "$(grep -c '^warning: OPENBLAS_CORETYPE=Haswell pins OpenBLAS to its 256-bit kernels on a 512-bit (AVX-512) CPU; SGEMM n=2048 without it: 1 thread [0-9.]* GFLOP/s' "$tmp/out")" -eq 1 ] &&
     grep -q "^CPU: widest vector ISA AVX-512; BLAS kernel Haswell (256-bit)" "$tmp/out"; then
    ok "bench blas warns once that OPENBLAS_CORETYPE=Haswell narrows the kernels, with the unpinned rate"
  else
    bad "bench blas under OPENBLAS_CORETYPE=Haswell: $(head -c 600 "$tmp/out") $(head -c 200 "$tmp/err")"
  fi
  OPENBLAS_CORETYPE=Haswell "$seqlab" bench blas --fair-blas --size 256 --threads 1 >"$tmp/out" 2>"$tmp/err"
  if grep -q "^--fair-blas: seqlab and the peers run without OPENBLAS_CORETYPE=Haswell" "$tmp/out" &&
     ! grep -q "^warning:" "$tmp/out" && ! grep -q "core Haswell" "$tmp/out"; then
    ok "bench --fair-blas runs without the pin, and says so"
  else
    bad "bench blas --fair-blas: $(head -c 600 "$tmp/out") $(head -c 200 "$tmp/err")"
  fi
else
  ok "skipped: the CPU has no AVX-512, so OPENBLAS_CORETYPE=Haswell narrows nothing"
fi
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$seqlab" bench blas --size 256 --threads 1 >"$tmp/out" 2>"$tmp/err"
if ! grep -q "^warning:" "$tmp/out" &&
   grep -Eq "^FMA peak \(double, measured by hand, no BLAS\): 1 thread [1-9][0-9.]* GFLOP/s" "$tmp/out"; then
  ok "bench blas without pins: no warning, a positive FMA peak"
else
  bad "bench blas without pins: $(head -c 600 "$tmp/out") $(head -c 200 "$tmp/err")"
fi

# bench rbm end to end on a tiny setting: one row per method, each a positive time; the peer's
# line is parsed from its script's output (a stand-in script here: the real one needs sklearn),
# and a missing sklearn is one line saying the peer was skipped.
if "$seqlab" bench rbm --hidden 8 --batch 10 --method pcd,cd --epochs 1 --blocks 1 --warmup 0 \
     >"$tmp/out" 2>"$tmp/err" &&
   awk '/^seqlab (PCD-1|CD-1) batch=10 hidden=8: [0-9.]+ ms\/epoch$/ { n++; if ($5 + 0 > 0) p++ }
        END { exit !(n == 2 && p == 2) }' "$tmp/out" &&
   grep -q '^data: ' "$tmp/out" && grep -q '^BLAS: ' "$tmp/out"; then
  ok "bench rbm prints a positive ms/epoch for PCD-1 and CD-1"
else
  bad "bench rbm tiny run: $(head -c 600 "$tmp/out") $(head -c 300 "$tmp/err")"
fi
"$seqlab" bench rbm --hidden 8 --batch 5 --method cd --epochs 1 --blocks 1 --warmup 0 --json >"$tmp/out" 2>&1
ms=$(json_number ms_per_epoch)
if [ "$(wc -l <"$tmp/out")" -eq 1 ] && awk -v x="$ms" 'BEGIN { exit !(x > 0) }'; then
  ok "bench rbm --json: one row, ms_per_epoch $ms"
else
  bad "bench rbm --json: $(head -c 300 "$tmp/out")"
fi
expect_error "bench rbm --peers without bench_rbm.py" "^seqlab: error: bench rbm: --peers .*: no bench_rbm.py there" \
  "$seqlab" bench rbm --hidden 8 --epochs 1 --blocks 1 --peers "$tmp"
expect_error "bench rbm --method bogus" "^seqlab: error: bench rbm: --method item 'gibbs' is neither pcd nor cd$" \
  "$seqlab" bench rbm --method pcd,gibbs
mkdir -p "$tmp/peers_fake" "$tmp/peers_nosk"
printf 'print("sklearn 9.9 BernoulliRBM H=8 n=1797x64 s_per_epoch_median=0.0500 all=[0.05]")\n' \
  >"$tmp/peers_fake/bench_rbm.py"
printf 'raise ModuleNotFoundError("No module named %s")\n' "'sklearn'" >"$tmp/peers_nosk/bench_rbm.py"
"$seqlab" bench rbm --hidden 8 --batch 10 --method pcd --epochs 1 --blocks 1 --warmup 0 \
  --peers "$tmp/peers_fake" >"$tmp/out" 2>&1
if grep -Eq '^sklearn 9\.9 BernoulliRBM \(PCD-1, batch 10\) hidden=8: 50\.00 ms/epoch; seqlab PCD-1 batch=10 [0-9.]+ ms/epoch; ratio sklearn / seqlab [0-9.]+$' "$tmp/out"; then
  ok "bench rbm --peers prints the peer's ms/epoch beside seqlab's and the ratio"
else
  bad "bench rbm with a peer: $(head -c 600 "$tmp/out")"
fi
"$seqlab" bench rbm --hidden 8 --batch 10 --method pcd --epochs 1 --blocks 1 --warmup 0 \
  --peers "$tmp/peers_nosk" >"$tmp/out" 2>&1
if [ "$(grep -c '^sklearn' "$tmp/out")" -eq 1 ] && grep -q '^sklearn BernoulliRBM hidden=8: skipped: scikit-learn is not installed' "$tmp/out"; then
  ok "bench rbm --peers without sklearn: one line saying the peer was skipped"
else
  bad "bench rbm without sklearn: $(head -c 600 "$tmp/out")"
fi
for cmd in "decode" "datasets list" "bench hmm" "bench rnn"; do
  # shellcheck disable=SC2086
  "$seqlab" $cmd --help >"$tmp/help" 2>&1
  if grep -Eq -- "--seed|--threads" "$tmp/help"; then bad "$cmd --help offers --seed or --threads, which do nothing there"
  else ok "$cmd --help offers no --seed or --threads"; fi
done
# eval takes --seed for the noisy cues of a Hopfield network, and refuses it for a model that is
# scored exactly.
"$seqlab" eval --help >"$tmp/help" 2>&1
if grep -q -- "--threads" "$tmp/help"; then bad "eval --help offers --threads, which does nothing there"
else ok "eval --help offers no --threads"; fi
expect_error "--seed given to eval of a Markov chain" "eval: --seed applies to Hopfield networks .* is scored exactly" \
  "$seqlab" eval --model "$model" --data "$t" --seed 3
"$seqlab" train --model lstm --task classify --hidden 40 --epochs 1 --data patterns --out "$tmp/task.h5" >"$tmp/out" 2>&1
if grep -Eq "\([0-9]{1,3}(,[0-9]{3})+ parameters\)" "$tmp/out"; then ok "task model parameter count has thousands separators"
else bad "task model parameter count: $(grep parameters "$tmp/out")"; fi

# A sequence of probability 0 has no state path: decode says so explicitly (and warns with the
# step), for Viterbi and posterior decoding alike, in text, JSON and HDF5 output.
for method in viterbi posterior; do
  if "$seqlab" decode --model "$tmp/unseen.h5" --data "$tmp/unseen.txt" --split test --$method \
       >"$tmp/out" 2>"$tmp/err" && [ "$(cat "$tmp/out")" = "impossible" ] &&
     grep -q "sequence 0, step 2 has probability 0 under the model (it has no state path); a symbol or transition never seen" "$tmp/err"; then
    ok "decode --$method of an impossible sequence prints 'impossible' and warns"
  else
    bad "decode --$method of an impossible sequence: exit $?, out '$(cat "$tmp/out")', err '$(cat "$tmp/err")'"
  fi
  "$seqlab" decode --model "$tmp/unseen.h5" --data "$tmp/unseen.txt" --reader-option sequences=line --split all --$method --json >"$tmp/out" 2>/dev/null
  if grep -q '^{"sequence": 0, "log_[a-z]*": -[0-9.e+]*, "states": \[0\(,[01]\)*\]}$' "$tmp/out" &&
     grep -q '^{"sequence": 1, "log_[a-z]*": null, "states": null, "impossible_step": 29}$' "$tmp/out"; then
    ok "decode --$method --json: a path for the possible sequence, null and the step for the other"
  else
    bad "decode --$method --json: $(cat "$tmp/out" | head -c 400)"
  fi
done
: a synthetic set is mapped by symbol
# text, and a symbol the model never had is an error naming it (not a silent index match).
printf 'abcdef abc fed cab\nbad face\n' >"$tmp/abcdef.txt"
"$seqlab" train --model markov --data "$tmp/abcdef.txt" --out "$tmp/abcdef.h5" --quiet
expect_error "a letter model on the casino's digits" \
  "^seqlab: error: dataset 'casino', split all, sequence 0, step 0: symbol '[1-6]' is not in the model's alphabet \(8 symbols\)" \
  "$seqlab" eval --model "$tmp/abcdef.h5" --data casino
"$seqlab" train --model hmm --states 2 --max-iter 5 --data casino --out "$tmp/casino.h5" --quiet
expect_error "a casino HMM on brackets" "symbol '[()\$]' is not in the model's alphabet \(6 symbols\)" \
  "$seqlab" eval --model "$tmp/casino.h5" --data brackets
expect_error "decode: a casino HMM on brackets" "symbol '[()\$]' is not in the model's alphabet" \
  "$seqlab" decode --model "$tmp/casino.h5" --data brackets
# Rolls drawn from that HMM, once as characters (alphabet 1..6, the casino's own order) and once
# as tokens (alphabet by frequency, another order): order-1 models of the two files must score the
# casino alike, which they do only when the data go through each model's alphabet.
"$seqlab" sample --model "$tmp/casino.h5" --length 400 --seed 4 | tr -d '\n' >"$tmp/rolls.txt"
sed 's/./& /g' "$tmp/rolls.txt" >"$tmp/roll_tokens.txt"
"$seqlab" train --model markov --order 1 --data "$tmp/rolls.txt" --split all --out "$tmp/rolls-char.h5" --quiet
"$seqlab" train --model markov --order 1 --data "$tmp/roll_tokens.txt" --reader-option level=token \
  --split all --out "$tmp/rolls-token.h5" --quiet
"$seqlab" eval --model "$tmp/rolls-char.h5" --data casino --json >"$tmp/out" 2>"$tmp/err"
char_nll=$(json_number nll_nats)
"$seqlab" eval --model "$tmp/rolls-token.h5" --data casino --json >"$tmp/out" 2>"$tmp/err"
token_nll=$(json_number nll_nats)
if [ -n "$char_nll" ] && python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(a - b) > 1e-9 * abs(a))" "$char_nll" "$token_nll"; then
  ok "casino scored through a character and a token alphabet: $char_nll = $token_nll nats/symbol"
else
  bad "casino scored through two alphabets differs: '$char_nll' vs '$token_nll'"
fi

# --- model files holding what no training run writes (forged with the raw HDF5 API; regenerate
# with unit_tests "[regenerate-model-fixture]") ---------------------------------------------------
forged=$2/models
expect_error "markov unigram counts that wrap around 2^64 (scored 0.70 nats instead of failing)" \
  "forged_markov_count_overflow.h5: /counts/order_0/counts: sum to more than 2\^53 symbols" \
  "$seqlab" eval --model "$forged/forged_markov_count_overflow.h5" --data "$fixtures/tiny_eval.txt" --split all
expect_error "an HMM file with states = -1" \
  "forged_hmm_states_negative.h5: attribute 'states' is -1, expected a positive number of states" \
  "$seqlab" eval --model "$forged/forged_hmm_states_negative.h5" --data "$fixtures/tiny_eval.txt" --split all
expect_error "an LSTM file with residual = 5" \
  "forged_lstm_residual_5.h5: attribute 'residual' is 5, expected 0 or 1" \
  "$seqlab" sample --model "$forged/forged_lstm_residual_5.h5" --length 5

# Damaged files on which libhdf5 itself segfaults, aborts or loops (found by fuzzing, kept in
# tests/fuzz/upstream): the file is read first in a child process, so every one is a single line
# (timeout: a hang fails the check instead of the suite).
printf 'x\ny\n' >"$tmp/xy.txt"
for damaged in "$2"/../fuzz/upstream/model_file/*.h5.gz; do
  name=$(basename "$damaged" .h5.gz)
  zcat "$damaged" >"$tmp/$name.h5"
  for verb in "sample --length 3" "eval --data $tmp/xy.txt" "decode --data $tmp/xy.txt"; do
    # shellcheck disable=SC2086 # the verb's words are meant to split
    SEQLAB_LOAD_TIMEOUT=5 expect_error "${verb%% *} of the damaged model $name" "$name\.h5: " \
      timeout 60 "$seqlab" $verb --model "$tmp/$name.h5"
  done
done
expect_error "a SEQLAB_LOAD_TIMEOUT that is not a number of seconds" \
  "SEQLAB_LOAD_TIMEOUT must be a number of seconds in \(0, 1e6\], got 'soon'" \
  env SEQLAB_LOAD_TIMEOUT=soon "$seqlab" sample --model "$forged/markov_abaab_order1.h5" --length 3

finish
