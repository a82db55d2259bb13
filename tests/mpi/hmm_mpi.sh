#!/usr/bin/env bash
# tests/mpi/hmm_mpi.sh SEQLAB FIXTURES MPIRUN: training shared by the ranks of an MPI job.
# - The categorical HMM and every frame emission: `mpirun -n 1 seqlab train` writes bitwise the
#   model of a plain run, `mpirun -n 2` one within 1e-12 relative (h5py compares every parameter
#   dataset). Each rank holds only its share of the training data (sequences or --chunk pieces),
#   and the model and training score still equal one process's.
# - LSTM and GRU split over 2 ranks hold one process's parameters after 20 updates to float32
#   rounding; an LSTM stopped by SIGTERM to one rank and resumed from rank 0's checkpoint under 2
#   ranks writes bitwise the model of the job never stopped (the checkpoint is refused under 1
#   or 3 ranks).
# - Rank 0 alone prints and writes; other models, other commands and bad input stop every rank
#   with the same one line; a rank killed in mid-training ends the job at once, the other rank
#   saying why in one line. Nothing hangs: each job has a time limit.
set -u
seqlab=$1
mpirun=$3
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"

python=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c "import h5py" 2>/dev/null; then python=$candidate; break; fi
done
if [ -z "$python" ]; then
  echo "SKIPPED: no python3 with h5py (Debian package python3-h5py)"
  exit 77
fi

# As root (CI) OpenMPI wants --allow-run-as-root; --oversubscribe lets 2 ranks share fewer cores.
# Shared-memory transfers between ranks by copy, which works in containers without ptrace rights.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() {  # mpi R ARGS...: seqlab under mpirun with R ranks, at most 300 s
  local ranks=$1
  shift
  timeout 300 "$mpirun" --allow-run-as-root --oversubscribe -n "$ranks" "$seqlab" "$@"
}

# same_model A B TOLERANCE: every parameter dataset of two HMM files (history aside) equal,
# bitwise for tolerance 0, else within TOLERANCE relative (largest |difference| / largest |value|).
same_model() {
  "$python" - "$1" "$2" "$3" <<'PY'
import sys, h5py, numpy as np
a, b, tol = h5py.File(sys.argv[1]), h5py.File(sys.argv[2]), float(sys.argv[3])
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and not n.startswith("history") else None)
assert names, "no parameter datasets"
worst = 0.0
for n in names:
    x, y = np.asarray(a[n][()]), np.asarray(b[n][()])
    assert x.shape == y.shape, (n, x.shape, y.shape)
    if x.dtype.kind in "fc":
        scale = max(float(np.max(np.abs(x))), 1e-300)
        d = float(np.max(np.abs(x - y))) / scale if x.size else 0.0
        worst = max(worst, d)
        assert (d == 0.0) if tol == 0 else (d <= tol), (n, d)
    else:
        assert np.array_equal(x, y), n
print("largest relative difference %.3g over %d datasets" % (worst, len(names)))
PY
}

configs=(
  "categorical|--model hmm --states 6 --data hmm_synthetic --max-iter 30 --restarts 2 --pseudo-count 0.01"
  "bernoulli|--model hmm --states 4 --emission bernoulli --data patterns --max-iter 20 --pseudo-count 0.01"
  "gaussian_diag|--model hmm --states 3 --emission gaussian --data adding --max-iter 15"
  "gaussian_full|--model hmm --states 3 --emission gaussian_full --data adding --max-iter 15"
  "gmm_diag|--model hmm --states 2 --emission gmm --mixtures 2 --data adding --max-iter 15"
)
for config in "${configs[@]}"; do
  name=${config%%|*}
  read -r -a options <<<"${config#*|}"
  expect_ok "$name: one process" "$seqlab" train "${options[@]}" --out "$tmp/$name.h5" --seed 3
  expect_ok "$name: mpirun -n 1" mpi 1 train "${options[@]}" --out "$tmp/$name-1.h5" --seed 3
  check "$name: one rank writes bitwise the model of one process" \
    same_model "$tmp/$name.h5" "$tmp/$name-1.h5" 0
  expect_ok "$name: mpirun -n 2" mpi 2 train "${options[@]}" --out "$tmp/$name-2.h5" --seed 3
  check "$name: rank 0 alone reports (one 'trained' line)" \
    bash -c '[ "$(grep -c "^trained hmm" "$1")" -eq 1 ]' _ "$tmp/out"
  check "$name: two ranks give the model of one process within 1e-12 relative" \
    same_model "$tmp/$name.h5" "$tmp/$name-2.h5" 1e-12
done

# Each rank holds only its share of the training data: of the sequences, or of the --chunk pieces
# of a long one (cut before the data is divided). The training score then sums the ranks' scores.
expect_ok "sharded: one process, --json" "$seqlab" train --model hmm --states 4 --data hmm_synthetic \
  --max-iter 10 --out "$tmp/sh.h5" --seed 5 --json
cp "$tmp/out" "$tmp/sh.json"
expect_ok "sharded: mpirun -n 2, --json" mpi 2 train --model hmm --states 4 --data hmm_synthetic \
  --max-iter 10 --out "$tmp/sh-2.h5" --seed 5 --json
check "sharded: the training NLL summed over the ranks' shares is one process's within 1e-12" \
  "$python" -c 'import json, sys
a, b = (json.loads(open(f).read().strip().splitlines()[-1]) for f in sys.argv[1:])
d = abs(a["train_nll_nats"] - b["train_nll_nats"]) / abs(a["train_nll_nats"])
assert d <= 1e-12, d' "$tmp/sh.json" "$tmp/out"
expect_ok "sharded: mpirun -n 3 says how the data was divided" mpi 3 train --model hmm --states 4 \
  --data hmm_synthetic --max-iter 2 --out "$tmp/sh-3.h5" --seed 5
check "sharded: rank 0 says how the data was divided" \
  grep -q "^MPI: 3 ranks each hold only their share of the" "$tmp/out"
# One text of 3,000 characters (a fixed pseudo-random walk over 8 letters).
"$python" -c 'import random
r = random.Random(1); c = 0; s = []
for _ in range(3000):
    c = (c + r.choice([0, 1, 1, 2, 7])) % 8; s.append("abcdefgh"[c])
print("".join(s))' >"$tmp/long.txt"
chunked=(--model hmm --states 5 --data "$tmp/long.txt" --chunk 40 --max-iter 25 --restarts 2)
expect_ok "chunked: one process" "$seqlab" train "${chunked[@]}" --out "$tmp/ch.h5" --seed 6
expect_ok "chunked: mpirun -n 3" mpi 3 train "${chunked[@]}" --out "$tmp/ch-3.h5" --seed 6
check "chunked: the division counts pieces" grep -q "training pieces of at most 40 symbols" "$tmp/out"
check "chunked: the training score says it is over the pieces" grep -q "^train: scored as" "$tmp/out"
check "chunked: three ranks holding their pieces give one process's model within 1e-12" \
  same_model "$tmp/ch.h5" "$tmp/ch-3.h5" 1e-12

# Recurrent networks: each window's streams split over the ranks, gradients summed in rank order.
for cell in lstm gru; do
  net=(--model "$cell" --hidden 32 --embedding 16 --batch 8 --window 25 --max-steps 20 --data hmm_synthetic)
  expect_ok "$cell: one process" "$seqlab" train "${net[@]}" --out "$tmp/$cell.h5" --seed 2
  expect_ok "$cell: mpirun -n 2" mpi 2 train "${net[@]}" --out "$tmp/$cell-2.h5" --seed 2
  check "$cell: after 20 updates two ranks hold the parameters of one process to float32 rounding" \
    same_model "$tmp/$cell.h5" "$tmp/$cell-2.h5" 1e-5  # measured: 3.1e-6 (LSTM), 2.5e-7 (GRU)
done

# More ranks than batches (hmm_synthetic has 2): idle ranks still join every sum.
read -r -a categorical <<<"${configs[0]#*|}"
for ranks in 3 4; do
  expect_ok "categorical: mpirun -n $ranks" mpi "$ranks" train "${categorical[@]}" --out "$tmp/cat-$ranks.h5" --seed 3
  check "categorical: $ranks ranks give the model of one process within 1e-12 relative" \
    same_model "$tmp/categorical.h5" "$tmp/cat-$ranks.h5" 1e-12
done

expect_ok "--json under two ranks: one JSON line" \
  mpi 2 train --model hmm --states 3 --data hmm_synthetic --max-iter 5 --out "$tmp/j.h5" --json --quiet
check "exactly one JSON object on stdout" bash -c '[ "$(grep -c "^{" "$1")" -eq 1 ]' _ "$tmp/out"

# --- refusals: the same line on every rank, and the job ends ----------------------------------
expect_mpi_error() {  # NAME PATTERN ARGS...: both ranks print PATTERN, the job fails
  local name=$1 pattern=$2
  shift 2
  mpi 2 "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$? lines
  lines=$(grep -c "^seqlab: error: .*$pattern" "$tmp/err")
  if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$lines" -eq 2 ]; then
    passed=$((passed + 1))
    echo "ok   - $name: $(grep -m1 "^seqlab: error:" "$tmp/err")"
  else
    failed=$((failed + 1))
    echo "FAIL - $name (status $status, $lines matching lines of 2): $(head -c 600 "$tmp/err")"
  fi
}
expect_mpi_error "a Markov chain under mpirun" \
  "train: --model markov trains in one process; under mpirun (2 ranks) only --model hmm (Baum-Welch) and the recurrent networks" \
  train --model markov --data hmm_synthetic --out "$tmp/x.h5"
expect_mpi_error "eval under mpirun" \
  "'seqlab eval' runs in one process; under mpirun (2 ranks) only 'seqlab train --model hmm' and" \
  eval --model "$tmp/categorical.h5" --data hmm_synthetic
expect_mpi_error "a missing data file" "no-such-file.txt" \
  train --model hmm --states 2 --data "$tmp/no-such-file.txt" --out "$tmp/x.h5"
check "no model was written by the refused jobs" bash -c '[ ! -e "$1/x.h5" ]' _ "$tmp"

# --- recurrent checkpoints: rank 0 writes one file with every rank's part -----------------------
# SIGTERM to one rank: the ranks stop at the same update, rank 0 writes the checkpoint and alone
# says so; --resume under 2 ranks then gives bitwise the model of
# the job never stopped. About 4 s of training with dropout and a valid split (no early stop),
# stopped about 0.5 s in: the job must still be running when the signal comes.
ck=(train --model lstm --window 21 --batch 8 --epochs 40 --patience 1000 --dropout 0.1 --lr 0.003
    --data brackets --threads 1 --hidden 128 --seed 3)
expect_ok "lstm checkpoints: the job never stopped" mpi 2 "${ck[@]}" --out "$tmp/ck-ref.h5" --quiet
ckpt=$tmp/ck.ckpt
timeout 300 "$mpirun" --allow-run-as-root --oversubscribe -n 2 "$seqlab" "${ck[@]}" --quiet \
  --checkpoint "$ckpt" --checkpoint-every 0.2 --out "$tmp/ck.h5" >"$tmp/out" 2>"$tmp/err" &
job=$!
for _ in $(seq 600); do [ -e "$ckpt" ] && break; sleep 0.1; done
sleep 0.3
# SIGTERM to one rank alone: a stop asked of any rank stops both at the same update. (Signalling
# mpirun forwards it to every rank too, but mpirun may then drop the ranks' last output lines.)
mapfile -t ranks < <(pgrep -f -- "--out $tmp/ck.h5" | while read -r p; do
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = seqlab ] && echo "$p"; done)
[ "${#ranks[@]}" -eq 2 ] && kill -TERM "$(printf '%s\n' "${ranks[@]}" | sort -n | tail -n 1)"
wait "$job"
status=$?
check "SIGTERM to one rank stops the job (status $status, ${#ranks[@]} ranks found)" \
  bash -c '[ "$1" -ne 0 ] && [ "$1" -ne 124 ]' _ "$status"
check "rank 0 alone says where the checkpoint is: $(grep -m 1 "stopped by signal" "$tmp/err")" \
  bash -c '[ "$(grep -Ec "^seqlab: train stopped by signal( \(Terminated\))?; checkpoint in .*ck\.ckpt, run the same command with --resume to continue$" "$1")" -eq 1 ]' \
  _ "$tmp/err"
check "the job was stopped mid-training, not finished" bash -c '[ ! -e "$1" ] && [ -e "$2" ]' _ "$tmp/ck.h5" "$ckpt"
check "one checkpoint file holds both ranks' shards" "$python" -c '
import sys, h5py
s = h5py.File(sys.argv[1])["shards"]
assert int(s.attrs["ranks"]) == 2 and int(s.attrs["count"]) == 2, dict(s.attrs)' "$ckpt"
cp "$ckpt" "$tmp/ck-copy.ckpt"
expect_error "a checkpoint of 2 ranks in one process" \
  "ck-copy\.ckpt: cannot resume: the checkpoint was written by 2 MPI ranks and this run is 1 process; continue it under mpirun -n 2" \
  "$seqlab" "${ck[@]}" --checkpoint "$tmp/ck-copy.ckpt" --resume --out "$tmp/ck1.h5" --quiet
mpi 3 "${ck[@]}" --checkpoint "$tmp/ck-copy.ckpt" --resume --out "$tmp/ck3.h5" --quiet >"$tmp/out" 2>"$tmp/err"
status=$?
check "... and under 3 ranks: every rank says so in one line (status $status)" \
  bash -c '[ "$1" -ne 0 ] && [ "$1" -ne 124 ] && [ "$(grep -c "^seqlab: error: .*written by 2 MPI ranks and this run is 3 MPI ranks; continue it under mpirun -n 2$" "$2")" -eq 3 ]' \
  _ "$status" "$tmp/err"
expect_ok "--resume under 2 ranks" mpi 2 "${ck[@]}" --checkpoint "$ckpt" --resume --out "$tmp/ck.h5" --quiet
check "the finished job removed its checkpoint" bash -c '[ ! -e "$1" ]' _ "$ckpt"
check "stopped and resumed, the job writes bitwise the model of the job never stopped" \
  same_model "$tmp/ck-ref.h5" "$tmp/ck.h5" 0

# --- seqlab run under mpirun: rank 0 hands out the plan's runs, the folder is a plain run's ---
cat >"$tmp/grid.toml" <<'TOML'
[experiment]
name = "grid"
seeds = [1, 2]

[budget]
max-iter = 10

[[datasets]]
name = "casino"

[[datasets]]
name = "brackets"

[[models]]
model = "markov"
order = [1, 2]

[[models]]
model = "hmm"
states = [2, 3, 4]
TOML
expect_ok "the experiment in one process" "$seqlab" run "$tmp/grid.toml" --out "$tmp/plain" --quiet
expect_ok "the experiment under mpirun -n 2" mpi 2 run "$tmp/grid.toml" --out "$tmp/ranks"
check "rank 1 carried out runs it was handed" \
  bash -c '[ "$(grep -c "finished on rank 1" "$1")" -ge 1 ]' _ "$tmp/err"
csv_numbers "$tmp/plain/results.csv" >"$tmp/plain.numbers"
csv_numbers "$tmp/ranks/results.csv" >"$tmp/ranks.numbers"
check "the results folder has the numbers of the plain run (20 runs)" \
  bash -c 'cmp -s "$1/plain.numbers" "$1/ranks.numbers" && [ "$(wc -l <"$1/ranks.numbers")" -eq 21 ]' \
  _ "$tmp"
expect_ok "running it again under mpirun finds every run done" mpi 2 run "$tmp/grid.toml" --out "$tmp/ranks"
check "nothing was run again" bash -c '! grep -q "started" "$1" && grep -q "20 of 20 runs already finished" "$1"' \
  _ "$tmp/err"

# --- bench hmm --mpi: the shared iteration timed beside the threaded one ----------------------
expect_ok "bench hmm --mpi (small)" "$seqlab" bench hmm --states 16 --thread-counts 1,2 --sequences 4 \
  --length 500 --mpi
check "it times 2 ranks against 2 threads and gives the message size" \
  bash -c 'grep -Eq "^seqlab N=16 2 MPI ranks x 1 thread: Baum-Welch iteration [0-9.]+ s \(1 process of 2 threads: [0-9.]+ s, ratio x[0-9.]+\); each rank sends 1,332 doubles" "$1"' \
  _ "$tmp/out"
expect_mpi_error "bench rnn under mpirun" "bench rnn: runs in one process, not under mpirun" \
  bench rnn

# --- a rank killed in the middle of training: the job ends, the other rank says why ------------
mpi 2 train --model hmm --states 100 --data hmm_synthetic --max-iter 100000 --tol 0 --quiet \
  --out "$tmp/killed.h5" >"$tmp/out" 2>"$tmp/err" &
job=$!
ranks=()
for _ in $(seq 50); do  # both ranks started and past their first iterations
  mapfile -t ranks < <(pgrep -f -- "--out $tmp/killed.h5" | while read -r p; do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = seqlab ] && echo "$p"; done)
  [ "${#ranks[@]}" -eq 2 ] && break
  sleep 0.2
done
sleep 2
start=$SECONDS
kill -9 "${ranks[1]}" 2>/dev/null
wait "$job"
status=$?
check "killing one of 2 ranks ends the job with an error (status $status, after $((SECONDS - start)) s)" \
  bash -c '[ "$1" -ne 0 ] && [ "$1" -ne 124 ] && [ "$2" -le 60 ]' _ "$status" "$((SECONDS - start))"
check "the surviving rank says the job was stopped, in one line" \
  bash -c '[ "$(grep -c "^seqlab: error: the MPI job was stopped (another rank failed or was killed" "$1")" -eq 1 ]' \
  _ "$tmp/err"
check "no model file was left" bash -c '[ ! -e "$1/killed.h5" ]' _ "$tmp"

finish
