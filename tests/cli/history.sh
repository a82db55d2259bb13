#!/usr/bin/env bash
# tests/cli/history.sh SEQLAB FIXTURES: `seqlab train` saves the learning curve in the model file
# (the history/ group of docs/formats.md, read here with h5py), counts it in --json, writes one
# progress line per EM iteration of an HMM to a log, and takes --max-time for HMMs.
set -u
seqlab=$1
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# A Python with h5py: the one on PATH, else the system's (a virtualenv or pyenv may lack it).
py=
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import h5py, numpy' 2>/dev/null; then py=$candidate; break; fi
done
[ -n "$py" ] && ok "h5py found ($py)" || bad "no python3 with h5py (scripts/install-deps.sh installs python3-h5py)"

# history FILE PYTHON: runs PYTHON with h = the file's history group (h5py), np = numpy;
# fails with the assertion's message.
history() {
  [ -n "$py" ] || return 1
  "$py" - "$1" "$2" <<'PY' 2>"$tmp/err"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    h = f["history"]
    exec(sys.argv[2])
PY
}

# --- HMM: 2 restarts of 5 iterations, every pass recorded ---------------------------------------
expect_ok "train an HMM" "$seqlab" train --model hmm --states 2 --max-iter 5 --tol 0 --restarts 2 \
  --data casino --out "$tmp/hmm.h5" --json
check "--json counts 12 records (6 passes per restart)" [ "$(json_number history_records)" = 12 ]
train_nll=$(json_number train_nll_nats)
check "the history group holds every documented dataset, one element per record" history "$tmp/hmm.h5" '
names = ["epoch", "restart", "updates", "seconds", "train_nll", "valid_nll", "learning_rate",
         "gradient_norm", "log_likelihood_change"]
assert sorted(h.keys()) == sorted(names), sorted(h.keys())
assert all(h[n].shape == (12,) for n in names)
assert h.attrs["unit"] == "symbol", h.attrs["unit"]
assert h["epoch"].dtype == np.uint64 and h["train_nll"].dtype == np.float64'
check "HMM records: restarts, passes, M-steps so far, changes, valid at every pass" \
  history "$tmp/hmm.h5" '
assert list(h["restart"][:]) == [0] * 6 + [1] * 6
assert list(h["epoch"][:]) == [1, 2, 3, 4, 5, 6] * 2
assert list(h["updates"][:]) == [0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10]
v = h["valid_nll"][:]
assert np.isfinite(v).all(), v
c = h["log_likelihood_change"][:]
assert np.isnan(c[0]) and np.isnan(c[6]) and np.isfinite(c[1:6]).all()
assert np.isnan(h["learning_rate"][:]).all() and np.isnan(h["gradient_norm"][:]).all()
assert (np.diff(h["seconds"][:]) >= 0).all()'
check "the kept restart's last train NLL is the one train reports" history "$tmp/hmm.h5" "
t = h['train_nll'][:]
best = min(t[5], t[11])
assert abs(best - $train_nll) <= 1e-9 * abs(best), (best, $train_nll)"

# --- HMM progress lines: one per EM iteration in a log; none with --quiet ------------------------
"$seqlab" train --model hmm --states 2 --max-iter 5 --tol 0 --restarts 2 --data casino \
  --out "$tmp/hmm2.h5" >"$tmp/out" 2>"$tmp/log"
pattern='^hmm: restart [01], iteration [0-5]/5: LL -[0-9]+\.[0-9]{6} nats/symbol, change (n/a|[-+][0-9]\.[0-9]{3}e[-+][0-9]+ nats), [0-9.e+-]+ s/iteration, ETA [0-9.]+s$'
check "a log gets one progress line per pass (12)" [ "$(grep -Ec "$pattern" "$tmp/log")" -eq 12 ]
check "the first pass of each restart has no change" [ "$(grep -Ec 'iteration 0/5: .* change n/a' "$tmp/log")" -eq 2 ]
check "no carriage return in a log" [ "$(tr -cd '\r' <"$tmp/log" | wc -c)" -eq 0 ]
expect_ok "train --quiet" "$seqlab" train --model hmm --states 2 --max-iter 5 --data casino --out "$tmp/hmm3.h5" --quiet
check "--quiet writes no progress" [ ! -s "$tmp/err" ]

# --- HMM time budget ----------------------------------------------------------------------------
expect_ok "--max-time for an HMM" "$seqlab" train --model hmm --states 2 --max-iter 1000 --tol 0 \
  --restarts 3 --max-time 1e-6 --data casino --out "$tmp/timed.h5" --json
check "the budget ends training after one iteration of restart 0 (2 records)" \
  [ "$(json_number history_records)" = 2 ]
check "the log says what the budget did" grep -q \
  "time budget of 1e-06 s was used up in restart 0 after 1 iteration; restarts 1 to 2 were not started" "$tmp/err"
expect_error "--max-time does not apply to a Markov chain" \
  "^seqlab: error: train: --max-time applies to --model hmm, rnn, leaky, jordan, lstm, gru, rbm, bm or crbm only \(got --model markov\)$" \
  "$seqlab" train --model markov --max-time 5 --data casino --out "$tmp/m.h5"
expect_ok "train --help" "$seqlab" train --help
check "--help lists --max-time for HMMs too" \
  bash -c 'tr "\n" " " <"$1" | tr -s " " | grep -q "an HMM ends the restart in progress"' _ "$tmp/out"

# --- Markov chain, network, task model -------------------------------------------------------------
expect_ok "train a Markov chain" "$seqlab" train --model markov --order 2 --data casino --out "$tmp/markov.h5" --json
markov_nll=$(json_number train_nll_nats)
check "one Markov record, with the train NLL train reports" history "$tmp/markov.h5" "
assert list(h['epoch'][:]) == [1] and list(h['updates'][:]) == [1]
assert abs(h['train_nll'][0] - $markov_nll) <= 1e-12 * $markov_nll
assert np.isfinite(h['valid_nll'][0])"
expect_ok "train an LSTM" "$seqlab" train --model lstm --hidden 8 --epochs 2 --window 20 --data casino \
  --out "$tmp/lstm.h5" --json --quiet
check "one record per epoch, with the constant learning rate" history "$tmp/lstm.h5" '
assert list(h["epoch"][:]) == [1, 2]
assert (h["learning_rate"][:] == 0.002).all()
assert np.isfinite(h["valid_nll"][:]).all() and (h["gradient_norm"][:] > 0).all()
assert h["updates"][0] > 0 and h["updates"][1] == 2 * h["updates"][0]'
check "--json counts the LSTM records" [ "$(json_number history_records)" = 2 ]
expect_ok "train a task model" "$seqlab" train --model gru --task classify --hidden 4 --epochs 2 \
  --data patterns --out "$tmp/task.h5" --json --quiet
check "a task model's history: label NLL per sequence" history "$tmp/task.h5" '
assert h.attrs["unit"] == "sequence"
assert list(h["epoch"][:]) == [1, 2] and np.isfinite(h["train_nll"][:]).all()'
check "--json counts the task model's records" [ "$(json_number history_records)" = 2 ]

finish
