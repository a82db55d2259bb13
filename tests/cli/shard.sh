#!/usr/bin/env bash
# tests/cli/shard.sh: an experiment run as a job array would run it: `seqlab run --shard I/3`
# into three folders, then `seqlab merge`. The shards' plans are disjoint and cover the plan; the
# merged folder has exactly the numbers of the same experiment run whole (every column of
# results.csv but the wall time and the date); merging again changes nothing; `seqlab report`
# reads the merged folder. Refusals: malformed --shard, two drivers in one folder, folders of
# another experiment or of another plan, a folder that is not a results folder. A shard with no
# runs says so and exits 0; a shard missing from a merge is named.
# usage: shard.sh SEQLAB FIXTURE_DIR
seqlab=$1
. "$(dirname "$0")/lib.sh"

cat >"$tmp/grid.toml" <<'TOML'
# 20 runs of well under a second: Markov chains and small HMMs on two synthetic sets
[experiment]
name = "grid"
seeds = [1, 2]
jobs = 2

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

# ids FILE: the run ids a dry run listed, sorted.
ids() { grep -oE '^  [0-9a-f]{16}' "$1" | tr -d ' ' | sort; }
# digest DIR: "name sha256" of each run file, sorted.
digest() { (cd "$1/runs" && sha256sum ./*.h5 | sort -k 2); }

# The plans: each shard's dry run lists its runs only; together they are the plan, once each.
expect_ok "the whole plan" "$seqlab" run "$tmp/grid.toml" --dry-run
ids "$tmp/out" >"$tmp/plan.ids"
[ "$(wc -l <"$tmp/plan.ids")" -eq 20 ] && ok "the plan has 20 runs" || bad "plan: $(wc -l <"$tmp/plan.ids") runs"
for i in 1 2 3; do
  expect_ok "dry run of shard $i/3" "$seqlab" run "$tmp/grid.toml" --dry-run --shard "$i/3"
  ids "$tmp/out" >"$tmp/shard$i.ids"
  n=$(wc -l <"$tmp/shard$i.ids")
  grep -q "^experiment grid (.*): shard $i/3: $n of 20 runs on 2 datasets" "$tmp/out" &&
    grep -q "^rough estimate: .* for this shard (the plan's .*)" "$tmp/out" &&
    ok "shard $i/3 lists $n runs and its share of the estimate" || bad "dry run: $(head -n 2 "$tmp/out")"
  { [ "$n" -ge 6 ] && [ "$n" -le 7 ]; } && ok "shard $i/3 has 6 or 7 of the 20 runs" || bad "shard $i/3: $n runs"
done
sort "$tmp"/shard[123].ids >"$tmp/union.ids"
[ -z "$(uniq -d "$tmp/union.ids")" ] && ok "the shards are disjoint" || bad "in two shards: $(uniq -d "$tmp/union.ids")"
cmp -s "$tmp/union.ids" "$tmp/plan.ids" && ok "together the shards are the plan" ||
  bad "union differs: $(diff "$tmp/union.ids" "$tmp/plan.ids" | head -n 3)"
"$seqlab" run "$tmp/grid.toml" --dry-run --shard 2/3 | ids /dev/stdin >"$tmp/again.ids"
cmp -s "$tmp/again.ids" "$tmp/shard2.ids" && ok "the same shard again: the same runs" || bad "shard 2/3 changed"

# Bad --shard values: one line naming the option and the expected form, nothing run.
for bad_shard in 0/3 4/3 1/0 x 1/ 2 1/100001; do
  expect_error "--shard $bad_shard is refused" "^seqlab: error: run: --shard must be I/N, .*\(e\.g\. 1/4.*got '$bad_shard'" \
    "$seqlab" run "$tmp/grid.toml" --shard "$bad_shard" --out "$tmp/never"
done
[ ! -e "$tmp/never" ] && ok "a refused --shard writes nothing" || bad "a refused --shard made $tmp/never"

# A shard with no runs (more shards than runs): one line, exit 0.
expect_ok "shard 25/30 of 20 runs" "$seqlab" run "$tmp/grid.toml" --shard 25/30 --out "$tmp/empty"
[ "$(cat "$tmp/out")" = "shard 25/30 of experiment grid has no runs: the plan has 20 runs, fewer than 30 shards; nothing to do" ] &&
  ok "an empty shard says so in one line" || bad "empty shard: $(cat "$tmp/out")"
expect_ok "dry run of an empty shard" "$seqlab" run "$tmp/grid.toml" --shard 30/30 --dry-run
[ "$(wc -l <"$tmp/out")" -eq 1 ] && ok "its dry run is the same one line" || bad "dry run: $(cat "$tmp/out")"

# The whole experiment, then each shard into its own folder, as the tasks of an array would.
expect_ok "the whole experiment" "$seqlab" run "$tmp/grid.toml" --out "$tmp/A" --quiet
for i in 1 2 3; do
  expect_ok "shard $i/3" "$seqlab" run "$tmp/grid.toml" --shard "$i/3" --out "$tmp/S$i"
  (cd "$tmp/S$i/runs" && ls ./*.h5 | sed 's|^./||; s|\.h5$||' | sort) >"$tmp/ran$i.ids"
  cmp -s "$tmp/ran$i.ids" "$tmp/shard$i.ids" && ok "S$i holds exactly the runs of shard $i/3" ||
    bad "S$i runs: $(diff "$tmp/ran$i.ids" "$tmp/shard$i.ids" | head -n 3)"
  cmp -s "$tmp/grid.toml" "$tmp/S$i/config.toml" && [ -s "$tmp/S$i/results.csv" ] &&
    ok "S$i is a results folder (config.toml, summary)" || bad "S$i: $(ls "$tmp/S$i")"
done
grep -q "^shards = \[ 2 \]" "$tmp/S2/shard.toml" && ok "S2 records its shard" || bad "record: $(cat "$tmp/S2/shard.toml")"
expect_ok "shard 2/3 again" "$seqlab" run "$tmp/grid.toml" --shard 2/3 --out "$tmp/S2"
grep -q "resuming: $(wc -l <"$tmp/shard2.ids") of $(wc -l <"$tmp/shard2.ids") runs of shard 2/3 already finished" "$tmp/err" &&
  ok "a shard resumes like any run" || bad "resume: $(cat "$tmp/err")"

# Two drivers in one folder: the second is refused and told what to do. This shell holds the
# folder's lock as a running driver would (flock(1) on descriptor 9).
exec 9<>"$tmp/S1/.lock"
flock -n 9 && ok "the lock of S1 taken as a driver would" || bad "cannot take the lock of S1"
expect_error "a second shard in a folder in use" \
  "S1: another 'seqlab run' is writing into this results folder: give each shard its own --out \(e\.g\. --out .*/S1-3 for --shard 3/3\) and combine the folders with 'seqlab merge'" \
  "$seqlab" run "$tmp/grid.toml" --shard 3/3 --out "$tmp/S1"
expect_error "merging a folder a run is writing into" "S1: a 'seqlab run' is still writing into this results folder" \
  "$seqlab" merge --out "$tmp/never" "$tmp/S1" "$tmp/S2"
exec 9>&-
[ ! -e "$tmp/never" ] && ok "a refused merge writes nothing" || bad "a refused merge made $tmp/never"

# Merge: the three shards give the numbers of the whole run.
expect_ok "merging the shards" "$seqlab" merge --out "$tmp/B" "$tmp/S1" "$tmp/S2" "$tmp/S3"
for i in 1 2 3; do
  grep -q "^$tmp/S$i (shard $i/3): $(wc -l <"$tmp/shard$i.ids") runs copied$" "$tmp/out" &&
    ok "merge says what came from S$i" || bad "merge output: $(cat "$tmp/out")"
done
grep -q "^$tmp/B: 20 runs of the plan's 20, none missing; summary: " "$tmp/out" &&
  ok "merge counts the plan's runs" || bad "merge output: $(tail -n 1 "$tmp/out")"
[ ! -s "$tmp/err" ] && ok "no warnings" || bad "warnings: $(cat "$tmp/err")"
cmp -s "$tmp/grid.toml" "$tmp/B/config.toml" && ok "B/config.toml is the experiment file" || bad "B/config.toml"
[ "$(ls "$tmp"/B/logs/*.log | wc -l)" -eq 20 ] && ok "each run's log came along" || bad "logs: $(ls "$tmp/B/logs" | wc -l)"
if cmp -s <(csv_numbers "$tmp/A/results.csv") <(csv_numbers "$tmp/B/results.csv"); then
  ok "the merged shards have exactly the numbers of the whole run (20 rows)"
else
  bad "results differ: $(diff <(csv_numbers "$tmp/A/results.csv") <(csv_numbers "$tmp/B/results.csv") | head -n 4)"
fi
for i in 1 2 3; do
  for id in $(cat "$tmp/shard$i.ids"); do cmp -s "$tmp/S$i/runs/$id.h5" "$tmp/B/runs/$id.h5" || echo "$id"; done
done >"$tmp/changed"
[ ! -s "$tmp/changed" ] && ok "the merged run files are the shards' files, byte for byte" ||
  bad "changed in the copy: $(head -n 3 "$tmp/changed")"

# Merging again: nothing copied, nothing changed.
digest "$tmp/B" >"$tmp/before"
sha256sum "$tmp/B/results.csv" "$tmp/B/results.h5" >>"$tmp/before"
expect_ok "merging again" "$seqlab" merge --out "$tmp/B" "$tmp/S1" "$tmp/S2" "$tmp/S3"
digest "$tmp/B" >"$tmp/after"
sha256sum "$tmp/B/results.csv" "$tmp/B/results.h5" >>"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" && ok "merging again changes no file" || bad "B changed: $(diff "$tmp/before" "$tmp/after" | head -n 3)"
[ "$(grep -c ": 0 runs copied, [67] already in $tmp/B$" "$tmp/out")" -eq 3 ] &&
  ok "merging again copies nothing" || bad "second merge: $(cat "$tmp/out")"

expect_ok "seqlab report of the merged folder" "$seqlab" report "$tmp/B" --out "$tmp/report"
[ -s "$tmp/report/index.html" ] && grep -q "hmm states=4" "$tmp/report/report.md" &&
  ok "the report of the merged folder has the runs" || bad "report: $(ls "$tmp/report")"

# A shard left out: the merge names it and the missing count; a plain run into the merged
# folder does only the missing runs.
expect_ok "merging two shards of three" "$seqlab" merge --out "$tmp/C" "$tmp/S1" "$tmp/S3"
n2=$(wc -l <"$tmp/shard2.ids")
grep -q "^$tmp/C: $((20 - n2)) runs of the plan's 20, $n2 missing (shard 2/3 not merged); running the experiment file with --out $tmp/C does only those" "$tmp/out" &&
  ok "the missing shard is named" || bad "merge output: $(tail -n 1 "$tmp/out")"
expect_ok "the whole experiment into the partly merged folder" "$seqlab" run "$tmp/grid.toml" --out "$tmp/C"
grep -q "resuming: $((20 - n2)) of 20 runs already finished" "$tmp/err" &&
  ok "it runs only the missing ones" || bad "resume: $(head -n 2 "$tmp/err")"

# A run file of the same id and other content (the same run carried out twice): one warning
# naming both files; the file already merged is kept.
expect_ok "merging the whole run into the merged shards" "$seqlab" merge --out "$tmp/B" "$tmp/A"
[ "$(grep -c "^seqlab: warning: run [0-9a-f]\{16\}: $tmp/B/runs/[0-9a-f]\{16\}\.h5 and $tmp/A/runs/[0-9a-f]\{16\}\.h5 differ .*kept $tmp/B/runs/" "$tmp/err")" -eq 20 ] &&
  ok "one warning per run carried out twice, naming both files" || bad "warnings: $(head -n 2 "$tmp/err")"
digest "$tmp/B" >"$tmp/after"
cmp -s <(head -n 20 "$tmp/before") "$tmp/after" && ok "no merged run file was replaced" || bad "run files changed"

# Refusals, each before anything is written.
sed 's/states = \[2, 3, 4\]/states = [2, 3]/' "$tmp/grid.toml" >"$tmp/other.toml"
expect_ok "another experiment" "$seqlab" run "$tmp/other.toml" --out "$tmp/O" --quiet
expect_error "merging folders of different experiments" \
  "merge: $tmp/S1 and $tmp/O hold different experiments \(their config.toml differ\)" \
  "$seqlab" merge --out "$tmp/never" "$tmp/S1" "$tmp/O"
expect_error "merging into a folder of another experiment" "merge: $tmp/O and $tmp/S1 hold different experiments" \
  "$seqlab" merge --out "$tmp/O" "$tmp/S1"
expect_error "merging a file" "grid.toml: not a results folder \(no runs/ folder inside\)" \
  "$seqlab" merge --out "$tmp/never" "$tmp/S1" "$tmp/grid.toml"
expect_error "merging a folder that is not a results folder" "$tmp/report: not a results folder" \
  "$seqlab" merge --out "$tmp/never" "$tmp/report"
expect_error "merging a folder that does not exist" "nothere: no such results folder" \
  "$seqlab" merge --out "$tmp/never" "$tmp/nothere"
expect_error "merging a folder into itself" "$tmp/S1 is both a source and --out" \
  "$seqlab" merge --out "$tmp/S1" "$tmp/S1" "$tmp/S2"
expect_error "merge without --out" "merge: --out is required" "$seqlab" merge "$tmp/S1"
expect_error "merge without folders" "merge: give the results folders to merge" "$seqlab" merge --out "$tmp/never"
expect_ok "shard 1/3 with another --threads" "$seqlab" run "$tmp/grid.toml" --shard 1/3 --threads 2 --out "$tmp/T1" --quiet
expect_error "merging shards of different plans" "merge: $tmp/S2 and $tmp/T1 hold shards of different plans" \
  "$seqlab" merge --out "$tmp/never" "$tmp/S2" "$tmp/T1"
[ ! -e "$tmp/never" ] && ok "no refused merge wrote anything" || bad "a refused merge made $tmp/never"

finish
