#!/usr/bin/env bash
# tests/cli/checkpoint.sh SEQLAB FIXTURES: `seqlab train --checkpoint FILE` of an LSTM stopped by
# SIGTERM (exit 143), by SIGINT (exit 130) and by kill -9 (the periodic checkpoint survives), each
# continued with --resume: the model then scores exactly as one trained without a stop, to every
# digit. The flag errors are one line each (exit 1).
set -u
seqlab=$1
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# About 5 s of training on one thread, with early stopping on the valid split and dropout.
# (--seed and --hidden come last, so that a test can give other values instead.)
common=(train --model lstm --window 21 --batch 8 --epochs 12 --patience 3 --dropout 0.1
        --lr 0.003 --data brackets --threads 1)
args=("${common[@]}" --hidden 256 --seed 3)

start=$(date +%s.%N)
expect_ok "the reference: training never stopped" "$seqlab" "${args[@]}" --out "$tmp/ref.h5" --quiet
echo "reference training took $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"

# The scores of a model on every split, all 17 digits.
scores() {
  local split
  for split in train valid test; do
    "$seqlab" eval --model "$1" --data brackets --split "$split" --json | sed -nE 's/.*"log_likelihood": ([-0-9.e+]+).*/\1/p'
  done
}
scores "$tmp/ref.h5" >"$tmp/ref.scores"
[ "$(wc -l <"$tmp/ref.scores")" -eq 3 ] && ok "the reference scores on three splits" ||
  bad "reference scores: $(cat "$tmp/ref.scores")"

# same_as_reference NAME MODEL
same_as_reference() {
  scores "$2" >"$tmp/scores"
  if cmp -s "$tmp/ref.scores" "$tmp/scores"; then
    ok "$1: the model scores exactly as the reference ($(head -n 1 "$tmp/scores") nats on train)"
  else
    bad "$1: scores differ: $(paste -d ' ' "$tmp/ref.scores" "$tmp/scores" | tr '\n' ';')"
  fi
}

# wait_for FILE: until it exists (up to 60 s); false if it never does.
wait_for() {
  local _
  for _ in $(seq 600); do
    [ -e "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# --- SIGTERM, then --resume --------------------------------------------------------------------
ckpt=$tmp/term.ckpt
"$seqlab" "${args[@]}" --checkpoint "$ckpt" --checkpoint-every 0.2 --out "$tmp/term.h5" \
  >"$tmp/term.out" 2>"$tmp/term.err" &
pid=$!
wait_for "$ckpt" || bad "no checkpoint appeared"
sleep 1
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 143 ] && ok "SIGTERM: exit 143" || bad "SIGTERM: exit $rc ($(tail -n 2 "$tmp/term.err"))"
last=$(tail -n 1 "$tmp/term.err")
if echo "$last" | grep -Eq "^seqlab: train stopped by signal \(Terminated\); checkpoint in .*term\.ckpt, run the same command with --resume to continue$"; then
  ok "one line says where the checkpoint is and how to continue"
else
  bad "stop line: '$last'"
fi
grep -q "lstm: training stopped at epoch" "$tmp/term.err" && ok "the progress log says where it stopped" ||
  bad "progress log: $(tail -n 3 "$tmp/term.err")"
[ -f "$ckpt" ] && ok "the checkpoint is there" || bad "no checkpoint after the stop"
[ ! -e "$tmp/term.h5" ] && ok "no model file yet" || bad "a model file was written"
[ -z "$(find "$tmp" -name '*.tmp.*')" ] && ok "no temp files" || bad "temp files: $(find "$tmp" -name '*.tmp.*')"

# The checkpoint belongs to that run: other settings are refused, naming the file and the field.
expect_error "resume with another seed" "term\.ckpt: cannot resume: the checkpoint was made with seed = 3, this run has seed = 4" \
  "$seqlab" "${common[@]}" --hidden 256 --seed 4 --checkpoint "$ckpt" --resume --out "$tmp/term.h5" --quiet
expect_error "resume with another hidden size" "term\.ckpt: cannot resume: .*hidden = 256, this run has hidden = 200" \
  "$seqlab" "${common[@]}" --hidden 200 --seed 3 --checkpoint "$ckpt" --resume --out "$tmp/term.h5" --quiet
expect_error "a checkpoint there without --resume" "term\.ckpt: holds the checkpoint of an unfinished run: add --resume" \
  "$seqlab" "${args[@]}" --checkpoint "$ckpt" --out "$tmp/term.h5"

expect_ok "--resume continues the stopped run" \
  "$seqlab" "${args[@]}" --checkpoint "$ckpt" --resume --out "$tmp/term.h5"
grep -q "lstm: resuming from .*term\.ckpt at epoch" "$tmp/err" && ok "the log says where it resumed" ||
  bad "resume log: $(head -n 3 "$tmp/err")"
[ ! -e "$ckpt" ] && ok "the finished run removed its checkpoint" || bad "the checkpoint is still there"
same_as_reference "SIGTERM and --resume" "$tmp/term.h5"
expect_error "--resume after the run finished" "term\.ckpt: no checkpoint to resume from" \
  "$seqlab" "${args[@]}" --checkpoint "$ckpt" --resume --out "$tmp/term.h5"

# --- SIGINT (a job with its own process group, so the signal is not ignored) ---------------------
ckpt=$tmp/int.ckpt
set -m
"$seqlab" "${args[@]}" --checkpoint "$ckpt" --checkpoint-every 0.2 --out "$tmp/int.h5" --quiet \
  2>"$tmp/int.err" &
pid=$!
set +m
wait_for "$ckpt" || bad "no checkpoint appeared"
sleep 0.5
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] && ok "SIGINT: exit 130" || bad "SIGINT: exit $rc ($(cat "$tmp/int.err"))"
[ "$(wc -l <"$tmp/int.err")" -eq 1 ] && grep -q "stopped by signal (Interrupt)" "$tmp/int.err" &&
  ok "with --quiet the stop is one line" || bad "SIGINT stderr: $(cat "$tmp/int.err")"
expect_ok "--resume after SIGINT" "$seqlab" "${args[@]}" --checkpoint "$ckpt" --resume --out "$tmp/int.h5" --quiet
same_as_reference "SIGINT and --resume" "$tmp/int.h5"

# --- kill -9: the last periodic checkpoint is what is left ----------------------------------------
ckpt=$tmp/kill.ckpt
"$seqlab" "${args[@]}" --checkpoint "$ckpt" --checkpoint-every 0.3 --out "$tmp/kill.h5" --quiet \
  2>/dev/null &
pid=$!
wait_for "$ckpt" || bad "no checkpoint appeared"
sleep 1.2
kill -9 "$pid"
wait "$pid" 2>/dev/null
[ -f "$ckpt" ] && ok "kill -9: the periodic checkpoint survives" || bad "kill -9 left no checkpoint"
expect_ok "--resume after kill -9" "$seqlab" "${args[@]}" --checkpoint "$ckpt" --resume --out "$tmp/kill.h5"
same_as_reference "kill -9 and --resume" "$tmp/kill.h5"
[ -z "$(find "$tmp" -name '*.tmp.*')" ] && ok "no temp files after the resume" ||
  bad "temp files: $(find "$tmp" -name '*.tmp.*')"

# --- a checkpoint that cannot be written (a file-size limit) costs a warning, not the run ------
(ulimit -f 4000 && exec "$seqlab" "${args[@]}" --checkpoint "$tmp/big.ckpt" --checkpoint-every 1 \
  --out "$tmp/limited.h5") >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && ok "training under a file-size limit finishes" || bad "exit $rc: $(tail -n 2 "$tmp/err")"
grep -q "lstm: warning: no checkpoint this time: .*big\.ckpt: cannot write" "$tmp/err" &&
  ok "a checkpoint over the limit is a warning: $(grep -m 1 warning "$tmp/err")" ||
  bad "no warning: $(grep -i -m 2 "checkpoint" "$tmp/err")"
same_as_reference "a run whose checkpoints failed" "$tmp/limited.h5"
[ -z "$(find "$tmp" -name '*.tmp.*')" ] && [ ! -e "$tmp/big.ckpt" ] &&
  ok "no checkpoint or temp file left" || bad "left: $(ls "$tmp")"

# --- flag errors ----------------------------------------------------------------------------------
expect_error "--resume without --checkpoint" "train: --resume needs --checkpoint FILE" \
  "$seqlab" "${args[@]}" --resume --out "$tmp/x.h5"
expect_error "--checkpoint-every without --checkpoint" "train: --checkpoint-every needs --checkpoint FILE" \
  "$seqlab" "${args[@]}" --checkpoint-every 10 --out "$tmp/x.h5"
expect_error "--checkpoint-every below 0" "train: --checkpoint-every must be a number of seconds" \
  "$seqlab" "${args[@]}" --checkpoint "$tmp/x.ckpt" --checkpoint-every -1 --out "$tmp/x.h5"
expect_error "--checkpoint with an HMM" "train: --checkpoint applies to recurrent networks .*not to --model hmm" \
  "$seqlab" train --model hmm --states 2 --data casino --checkpoint "$tmp/x.ckpt" --out "$tmp/x.h5"
expect_error "--checkpoint with --task" "train: --checkpoint applies to next-step training, not to --task" \
  "$seqlab" train --model lstm --task classify --data patterns --checkpoint "$tmp/x.ckpt" --out "$tmp/x.h5"
expect_error "--checkpoint the same as --out" "train: --checkpoint and --out name the same file" \
  "$seqlab" "${args[@]}" --checkpoint "$tmp/x.h5" --out "$tmp/x.h5"
expect_error "--checkpoint in a missing directory" "no/x\.ckpt" \
  "$seqlab" "${args[@]}" --checkpoint "$tmp/no/x.ckpt" --out "$tmp/x.h5"
printf 'not a checkpoint\n' >"$tmp/bad.ckpt"
expect_error "--resume from a damaged checkpoint" "bad\.ckpt: not an HDF5 file" \
  "$seqlab" "${args[@]}" --checkpoint "$tmp/bad.ckpt" --resume --out "$tmp/x.h5" --quiet
[ ! -e "$tmp/x.h5" ] && ok "no model written by a refused command" || bad "x.h5 was written"

finish
