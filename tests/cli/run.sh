#!/usr/bin/env bash
# tests/cli/run.sh: `seqlab run` carrying out a small experiment into a results folder: the
# folder's layout, the summary, resuming (finished runs are skipped, byte for byte), settings
# that changed (old run files moved to stale/), a damaged run file (run again), a run that
# fails (one-line error, exit 1, the others still finished and summarised), and SIGTERM
# (a clean stop, exit 143, the network run in progress keeps a checkpoint, and the same command
# continues it and finishes the rest).
# usage: run.sh SEQLAB FIXTURE_DIR
seqlab=$1
. "$(dirname "$0")/lib.sh"

write_experiment() {  # HMM_STATES
  cat >"$tmp/small.toml" <<TOML
# a small experiment on the dishonest casino: 8 runs of a second or less
[experiment]
name = "small"
seeds = [1, 2]
jobs = 2

[budget]
max-iter = 10
epochs = 2

[[datasets]]
name = "casino"

[[models]]
model = "markov"
order = [1, 2]

[[models]]
model = "hmm"
states = $1

[[models]]
model = "gru"
hidden = 8
window = 20
TOML
}

# digest DIR: one line per run file, "name sha256", sorted.
digest() { (cd "$1/runs" && sha256sum ./*.h5 | sort -k 2); }

write_experiment 2
res=$tmp/res
expect_ok "a small experiment runs" "$seqlab" run "$tmp/small.toml" --out "$res"
[ "$(ls "$res"/runs/*.h5 | wc -l)" -eq 8 ] && ok "8 run files" || bad "run files: $(ls "$res/runs")"
[ -s "$res/results.h5" ] && ok "results.h5 written" || bad "no results.h5"
[ "$(wc -l <"$res/results.csv")" -eq 9 ] && ok "results.csv: a header and 8 rows" ||
  bad "results.csv has $(wc -l <"$res/results.csv") lines"
head -n 1 "$res/results.csv" | grep -q "^run_id,label,model_type,family,dataset,unit,task,seed," &&
  ok "results.csv header" || bad "header: $(head -n 1 "$res/results.csv")"
cmp -s "$tmp/small.toml" "$res/config.toml" && ok "config.toml is the experiment file" ||
  bad "config.toml differs"
[ "$(ls "$res"/logs/*.log | wc -l)" -eq 8 ] && ok "one log per run" || bad "logs: $(ls "$res/logs")"
grep -qE "^casino +gru +2 +[0-9.]+ +[0-9.]+ +[0-9.]+$" "$tmp/out" &&
  ok "the summary table has a row per model with its mean test NLL" ||
  bad "summary: $(cat "$tmp/out")"
grep -q "results: $res/results.h5" "$tmp/out" && ok "the summary names results.h5" ||
  bad "no results line: $(tail -n 2 "$tmp/out")"
# Every run id of the plan has its file, and the numbers in the CSV are the run files' numbers.
"$seqlab" run "$tmp/small.toml" --out "$res" --dry-run >"$tmp/plan"
missing=0
for id in $(grep -oE '^  [0-9a-f]{16}' "$tmp/plan"); do [ -s "$res/runs/$id.h5" ] || missing=1; done
[ "$missing" -eq 0 ] && ok "each planned run id has its run file" || bad "missing run files"
ls "$res"/runs | grep -q tmp && bad "temp files left in runs/" || ok "no temp files left"

# Resume: nothing to do, nothing rewritten.
digest "$res" >"$tmp/before"
expect_ok "running again" "$seqlab" run "$tmp/small.toml" --out "$res"
grep -q "resuming: 8 of 8 runs already finished" "$tmp/err" && ok "finished runs are skipped" ||
  bad "no resume message: $(cat "$tmp/err")"
digest "$res" >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" && ok "run files untouched by the resume" || bad "run files changed"

# Changed settings are new runs; the old files go to stale/, out of the summary.
write_experiment 3
# A network's checkpoint of settings no longer planned (what an edit after a stop leaves).
echo "not a real checkpoint" >"$res/runs/00000000deadbeef.ckpt"
expect_ok "running with 3 HMM states" "$seqlab" run "$tmp/small.toml" --out "$res"
[ "$(ls "$res"/stale/*.h5 | wc -l)" -eq 2 ] && ok "the two 2-state HMM runs moved to stale/" ||
  bad "stale: $(ls "$res/stale" 2>&1)"
[ -f "$res/stale/00000000deadbeef.ckpt" ] && [ ! -e "$res/runs/00000000deadbeef.ckpt" ] &&
  ok "a checkpoint of settings no longer planned moved to stale/ too" ||
  bad "checkpoint: $(ls "$res/runs" "$res/stale" 2>&1 | grep ckpt)"
grep -q "moved 2 run files and 1 checkpoint of settings no longer in" "$tmp/err" &&
  ok "the move is reported" || bad "move message: $(grep moved "$tmp/err")"
grep -q "resuming: 6 of 8" "$tmp/err" && ok "the 6 unchanged runs are kept" ||
  bad "resume message: $(cat "$tmp/err")"
grep -q "states=3;" "$res/results.csv" && ! grep -q "states=2;" "$res/results.csv" &&
  ok "the summary has the new HMM runs only" || bad "summary rows: $(grep -o 'states=[0-9]*;' "$res/results.csv")"

# A damaged run file (truncated: what a disk error could leave) is run again and replaced.
victim=$(ls "$res"/runs/*.h5 | head -n 1)
good_size=$(stat -c %s "$victim")
head -c 1000 "$victim" >"$victim.cut" && mv "$victim.cut" "$victim"
expect_ok "running with a damaged run file" "$seqlab" run "$tmp/small.toml" --out "$res"
grep -q "damaged, running it again" "$tmp/err" && ok "the damaged file is named" ||
  bad "no damage message: $(cat "$tmp/err")"
[ "$(stat -c %s "$victim")" -eq "$good_size" ] && ok "the run file is whole again" ||
  bad "size $(stat -c %s "$victim"), expected $good_size"

# A run that fails: its output path is a directory. The others finish; one line, exit 1.
res2=$tmp/res2
id=$(grep -oE '^  [0-9a-f]{16}' "$tmp/plan" | head -n 1 | tr -d ' ')
mkdir -p "$res2/runs/$id.h5"
"$seqlab" run "$tmp/small.toml" --out "$res2" --quiet >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && ok "a failed run makes exit code 1" || bad "exit code $rc"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qE "^seqlab: error: run: 1 of 8 runs failed \(first: $id, .*\); logs in " "$tmp/err" &&
  ok "one line names the failed run: $(cat "$tmp/err")" || bad "stderr: $(cat "$tmp/err")"
files=$(find "$res2/runs" -name '*.h5' -type f | wc -l)
rows=$(($(wc -l <"$res2/results.csv") - 1))
[ "$files" -eq 7 ] && [ "$rows" -eq 7 ] && ok "the other 7 runs finished and are summarised" ||
  bad "after a failure: $files run files, $rows rows"

# SIGTERM: a clean stop with exit 143; the same command finishes the plan.
cat >"$tmp/slow.toml" <<'TOML'
[experiment]
name = "slow"
seeds = [1, 2, 3, 4]
[[datasets]]
name = "copy"
[[models]]
model = "lstm"
hidden = 32
epochs = 30
TOML
"$seqlab" run "$tmp/slow.toml" --out "$tmp/res3" >"$tmp/out" 2>"$tmp/err" &
driver=$!
# Until the first network is training (its log shows fit()'s first line), then half a second.
for _ in $(seq 200); do grep -qs "updates per epoch" "$tmp"/res3/logs/*.log && break; sleep 0.1; done
sleep 0.5
kill -TERM "$driver"
wait "$driver"
rc=$?
[ "$rc" -eq 143 ] && ok "SIGTERM: exit 143" || bad "SIGTERM: exit $rc ($(cat "$tmp/err"))"
grep -q "stopped by Terminated; [0-9] of 4 runs are finished" "$tmp/err" &&
  ok "the stop says how far it got" || bad "stop message: $(cat "$tmp/err")"
sleep 0.3
pgrep -f -- "--worker .*$tmp/res3" >/dev/null && bad "a worker outlived the driver" ||
  ok "no worker left running"
# The stopped network run left its checkpoint; the next command continues it from there.
stopped=$(find "$tmp/res3/runs" -name '*.ckpt' | head -n 1)
[ -n "$stopped" ] && ok "the stopped run left its checkpoint" || bad "no checkpoint: $(ls "$tmp/res3/runs")"
id=$(basename "$stopped" .ckpt)
grep -q "run $id: stopped by signal; checkpoint in .*$id.ckpt" "$tmp/res3/logs/$id.log" &&
  ok "its log says where the checkpoint is" || bad "log: $(tail -n 2 "$tmp/res3/logs/$id.log")"
expect_ok "the same command finishes the plan" "$seqlab" run "$tmp/slow.toml" --out "$tmp/res3"
[ "$(ls "$tmp"/res3/runs/*.h5 | wc -l)" -eq 4 ] && ok "4 run files after the resume" ||
  bad "run files: $(ls "$tmp/res3/runs")"
grep -q "lstm: resuming from .*$id.ckpt" "$tmp/res3/logs/$id.log" &&
  ok "the stopped run continued from its checkpoint" || bad "log: $(cat "$tmp/res3/logs/$id.log")"
[ -z "$(find "$tmp/res3/runs" -name '*.ckpt')" ] && ok "no checkpoint left once the runs finished" ||
  bad "checkpoints left: $(ls "$tmp/res3/runs")"
# ... and the results are those of the same experiment never stopped (all but the wall time and
# the date).
expect_ok "the same experiment, never stopped" "$seqlab" run "$tmp/slow.toml" --out "$tmp/res3ref" --quiet
if cmp -s <(csv_numbers "$tmp/res3/results.csv") <(csv_numbers "$tmp/res3ref/results.csv"); then
  ok "the stopped and continued experiment has exactly the results of one never stopped"
else
  bad "results differ: $(diff <(csv_numbers "$tmp/res3/results.csv") <(csv_numbers "$tmp/res3ref/results.csv") | head -n 4)"
fi

# On a terminal (a pseudo-terminal here): one status line, redrawn, with the runs done, an ETA
# and each current run's epoch and NLL from its learning-curve records.
if command -v script >/dev/null; then
  script -qfec "\"$seqlab\" run \"$tmp/slow.toml\" --out \"$tmp/res5\" --jobs 2" /dev/null \
    >"$tmp/pty" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] && ok "under a terminal: exit 0" || bad "under a terminal: exit $rc"
  grep -qE $'\r\x1b\\[K\\[[0-3]/4 runs, ETA [^]]+\\]  lstm s[1-4] ep [0-9]+ NLL [0-9.]+' "$tmp/pty" &&
    ok "the status line shows runs done, the ETA, and a run's epoch and NLL" ||
    bad "status line: $(tr '\r' '\n' <"$tmp/pty" | head -n 5)"
  grep -q "^results: $tmp/res5/results.h5" <(tr -d '\r' <"$tmp/pty") && ok "then the summary" ||
    bad "no summary under a terminal"
else
  echo "skip - no script(1) for a pseudo-terminal"
fi

# Two drivers on one folder: the second is refused before it runs anything.
"$seqlab" run "$tmp/slow.toml" --out "$tmp/res4" --quiet >/dev/null 2>&1 &
first=$!
for _ in $(seq 50); do [ -n "$(ls "$tmp/res4/logs" 2>/dev/null)" ] && break; sleep 0.1; done
expect_error "a second driver on the same folder" \
  "res4: another 'seqlab run' is writing into this results folder" \
  "$seqlab" run "$tmp/slow.toml" --out "$tmp/res4"
kill -TERM "$first"
wait "$first"

finish
