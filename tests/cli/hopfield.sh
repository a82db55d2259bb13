#!/usr/bin/env bash
# tests/cli/hopfield.sh SEQLAB FIXTURES: Hopfield networks through the command line: patterns
# stored with the pseudo-inverse rule come back exactly from cues with 10 % of their units
# flipped; eval reports recall and says the network defines no likelihood (no nll field); recall
# shows grids and the energy falling to the fixed point, and draws it; a sequence memory replays
# its sequences; the capacity experiment finds the Hebbian network's collapse between alpha 0.05
# and 0.3 and draws a real PNG; and bad input is refused in one line.
set -u
seqlab=$1
fixtures=$2
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# Six random 100-unit patterns, one per line (reader patterns, no label), and two piano-roll
# pieces of six random frames: seeded awk, so every run sees the same data.
awk 'BEGIN { srand(7); for (p = 0; p < 6; p++) { line = ""; for (i = 0; i < 100; i++)
  line = line (i ? "," : "") (rand() < 0.5 ? 1 : 0); print line } }' >"$tmp/six.csv"
awk 'BEGIN { srand(11); for (piece = 0; piece < 2; piece++) { if (piece) print "";
  for (t = 0; t < 6; t++) { line = ""; for (p = 48; p < 96; p++) if (rand() < 0.3)
  line = line (line == "" ? "" : " ") p; print (line == "" ? "-" : line) } } }' >"$tmp/roll.txt"
six=(--data "$tmp/six.csv" --reader patterns --reader-option label=none --split all)
roll=(--data "$tmp/roll.txt" --reader pianoroll --split all)

# png_size FILE: "WIDTH HEIGHT" from a PNG's signature and IHDR chunk, or nothing.
png_size() {
  [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = "89504e470d0a1a0a" ] || return 0
  local w h
  w=$(od -An -tu1 -j16 -N4 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
  h=$(od -An -tu1 -j20 -N4 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
  echo "$w $h"
}

# --- patterns: the pseudo-inverse rule recalls exactly ----------------------------------------
expect_ok "store six patterns with the pseudo-inverse rule" \
  "$seqlab" train --model hopfield --rule pinv "${six[@]}" --out "$tmp/six.h5"
check "train says there is no likelihood and recalls all 6 stored patterns" \
  bash -c 'grep -q "defines no likelihood" "$1" && grep -Eq "^recalled +1\.000000" "$1"' _ "$tmp/out"
expect_ok "eval --json with 10 % of each cue flipped" \
  "$seqlab" eval --model "$tmp/six.h5" "${six[@]}" --flip 0.1 --json
check "every cue comes back exactly (overlap 1, recalled 1, nearest memory 1)" \
  bash -c 'tail -n 1 "$1" | grep -q "\"mean_overlap\": 1, \"fraction_recalled\": 1, \"fraction_nearest_memory\": 1,"' \
  _ "$tmp/out"
check "the JSON says likelihood none and has no nll field" \
  bash -c 'tail -n 1 "$1" | grep -q "\"likelihood\": \"none\"" && ! grep -qi "nll" "$1"' _ "$tmp/out"
check "cues had 10 of 100 units flipped" [ "$(json_number flipped_units)" = "10" ]
expect_ok "eval as text" "$seqlab" eval --model "$tmp/six.h5" "${six[@]}"
check "its first line after model and data says there is no likelihood, and no nats follow" \
  bash -c 'sed -n 3p "$1" | grep -q "^likelihood *none: a Hopfield network defines no likelihood" &&
    [ "$(grep -c "nats" "$1")" -eq 1 ]' _ "$tmp/out"
"$seqlab" eval --model "$tmp/six.h5" "${six[@]}" --flip 0.3 --seed 5 --json >"$tmp/a" 2>&1
"$seqlab" eval --model "$tmp/six.h5" "${six[@]}" --flip 0.3 --seed 5 --json >"$tmp/b" 2>&1
check "the same seed gives the same scores" cmp -s "$tmp/a" "$tmp/b"

# --- recall: single cues, the energy, the figure ---------------------------------------------
expect_ok "recall stored pattern 2 with the energy figure" \
  "$seqlab" recall --model "$tmp/six.h5" --stored --index 2 --count 1 --plot "$tmp/energy.png"
check "it is recalled and the energy never increased" \
  bash -c 'grep -Eq "^overlap with the target +0\.8000 \(cue\) -> 1\.0000 \(recalled: yes\)" "$1" &&
    grep -Eq "^energy .* never increasing$" "$1"' _ "$tmp/out"
size=$(png_size "$tmp/energy.png")
check "the energy figure is a PNG of 864 x 480 pixels (got '$size')" [ "$size" = "864 480" ]
check "the figure is more than a blank canvas" [ "$(wc -c <"$tmp/energy.png")" -gt 10000 ]
# A cue drawn by hand: stored pattern 4 with its first 30 units unknown.
awk -F, 'NR == 5 { s = ""; for (i = 1; i <= NF; i++) s = s (i <= 30 ? "?" : ($i == 1 ? "#" : "."));
  print substr(s, 1, 50); print substr(s, 51) }' "$tmp/six.csv" >"$tmp/cue.txt"
expect_ok "recall from a cue file with 30 unknown units" \
  "$seqlab" recall --model "$tmp/six.h5" --cue "$tmp/cue.txt" --json
check "the cue file leads to stored pattern 4, exactly" \
  bash -c 'tail -n 1 "$1" | grep -q "\"nearest_pattern\": 4, \"nearest_overlap\": 1,"' _ "$tmp/out"

# Square patterns print as grids: the 8 x 8 noisy patterns of the registry.
expect_ok "store 3 of the registry's 64-unit patterns (Hebbian)" \
  "$seqlab" train --model hopfield --max-patterns 3 --data patterns --out "$tmp/p3.h5" --quiet
expect_ok "recall the first test frame" \
  "$seqlab" recall --model "$tmp/p3.h5" --data patterns --count 1
check "four 8 x 8 grids side by side (frame, cue, recalled, nearest)" \
  bash -c '[ "$(grep -Ec "^  [#.]{8} +[#.]{8} +[#.]{8} +[#.]{8}$" "$1")" -eq 8 ]' _ "$tmp/out"

# --- sequence memory --------------------------------------------------------------------------
expect_ok "store the pieces' transitions (pinv)" \
  "$seqlab" train --model hopfield --memory sequence --rule pinv "${roll[@]}" --out "$tmp/seq.h5"
expect_ok "eval the sequence memory from clean first frames" \
  "$seqlab" eval --model "$tmp/seq.h5" "${roll[@]}" --flip 0 --json
check "both pieces are replayed exactly (10 frames after the first)" \
  bash -c 'tail -n 1 "$1" | grep -q "\"replayed_frames\": 10, .*\"replay_accuracy\": 1, \"mean_replay_overlap\": 1, \"fraction_sequences_whole\": 1}"' \
  _ "$tmp/out"
expect_ok "recall replays a piece frame by frame" \
  "$seqlab" recall --model "$tmp/seq.h5" "${roll[@]}" --count 1 --flip 0
check "six replayed frames with overlap 1" \
  bash -c '[ "$(grep -Ec "^ +[0-5]  1\.0000 +[#.]{88}$" "$1")" -eq 6 ]' _ "$tmp/out"

# --- capacity ---------------------------------------------------------------------------------
expect_ok "capacity of 100-unit Hebbian networks at alpha 0.05 and 0.3" \
  "$seqlab" capacity --units 100 --loads 0.05,0.3 --rules hebbian --seeds 3 \
  --out "$tmp/cap.h5" --plot "$tmp/cap.png" --json
low=$(tail -n 1 "$tmp/out" | sed -nE 's/.*"alpha": 0\.05[0-9]*, "patterns": 5, "fraction_recalled": ([-0-9.e+]+).*/\1/p')
high=$(tail -n 1 "$tmp/out" | sed -nE 's/.*"alpha": 0\.29[0-9]*, "patterns": 30, "fraction_recalled": ([-0-9.e+]+).*/\1/p')
check "Hebbian recall is complete at alpha 0.05 (got '$low')" [ "$low" = "1" ]
check "and below one half at alpha 0.3 (got '$high')" \
  awk -v f="$high" 'BEGIN { exit !(f != "" && f < 0.5) }'
check "the table is an HDF5 file" \
  bash -c '[ "$(od -An -tx1 -N8 "$1" | tr -d " \n")" = "894844460d0a1a0a" ]' _ "$tmp/cap.h5"
size=$(png_size "$tmp/cap.png")
check "the capacity figure is a PNG of 864 x 480 pixels (got '$size')" [ "$size" = "864 480" ]
"$seqlab" capacity --units 60 --loads 0.1:0.3:3 --rules hebbian,storkey --seeds 4 --out "$tmp/c1.h5" \
  --json --quiet | tail -n 1 | sed 's/"seconds": [^,]*, "threads": [0-9]*//' >"$tmp/a"
"$seqlab" capacity --units 60 --loads 0.1:0.3:3 --rules hebbian,storkey --seeds 4 --out "$tmp/c2.h5" \
  --json --quiet --threads 2 | tail -n 1 | sed 's/"seconds": [^,]*, "threads": [0-9]*//; s/c2\.h5/c1.h5/' >"$tmp/b"
check "two threads give the table of one" cmp -s "$tmp/a" "$tmp/b"

expect_ok "modern retrieval beside Hebbian recall at alpha 0.5 and 4 (100 units)" \
  "$seqlab" capacity --units 100 --loads 0.5,4 --rules modern,hebbian --seeds 2 --out "$tmp/m.h5" --json
row_of() {  # rule alpha: that row's fraction recalled
  tail -n 1 "$tmp/out" | grep -oE "\{\"rule\": \"$1\", \"alpha\": $2, [^}]*\}" |
    sed -nE 's/.*"fraction_recalled": ([-0-9.e+]+),.*/\1/p'
}
check "modern rows come after the classical ones in the JSON" \
  bash -c 'tail -n 1 "$1" | grep -q "\"rule\": \"hebbian\".*\"rule\": \"modern\""' _ "$tmp/out"
check "one modern update recalls every cue at alpha 0.5 (got '$(row_of modern 0.5)')" \
  [ "$(row_of modern 0.5)" = "1" ]
check "and at alpha 4, 400 patterns in 100 units (got '$(row_of modern 4)')" [ "$(row_of modern 4)" = "1" ]
check "where the Hebbian network recalls at most 1 cue in 10 (got '$(row_of hebbian 0.5)')" \
  awk -v f="$(row_of hebbian 0.5)" 'BEGIN { exit !(f != "" && f <= 0.1) }'
check "the JSON gives beta" bash -c 'tail -n 1 "$1" | grep -q "\"modern_beta\": 1,"' _ "$tmp/out"

# --- refusals ---------------------------------------------------------------------------------
expect_error "capacity --beta" "capacity: --beta must be > 0 and at most 1e6, got -1" \
  "$seqlab" capacity --rules modern --beta -1 --out "$tmp/c.h5"
expect_error "capacity --rules modern twice" "capacity: --rules names modern twice" \
  "$seqlab" capacity --rules modern,hebbian,modern --out "$tmp/c.h5"
expect_error "text data" "train: dataset 'tiny.txt' \[all\] holds symbols; a Hopfield network stores binary frames" \
  "$seqlab" train --model hopfield --data "$fixtures/cli/tiny.txt" --split all --out "$tmp/x.h5"
expect_error "storkey for a sequence memory" "train: --rule storkey applies to --memory patterns" \
  "$seqlab" train --model hopfield --memory sequence --rule storkey "${roll[@]}" --out "$tmp/x.h5"
expect_error "--max-patterns for a sequence memory" "--max-patterns applies to --memory patterns only" \
  "$seqlab" train --model hopfield --memory sequence --max-patterns 3 "${roll[@]}" --out "$tmp/x.h5"
awk 'BEGIN { srand(3); for (p = 0; p < 20; p++) { line = ""; for (i = 0; i < 8; i++)
  line = line (i ? "," : "") (rand() < 0.5 ? 1 : 0); print line } }' >"$tmp/wide.csv"
expect_error "pinv with patterns spanning every unit" \
  "its 20 patterns span all 8 units, so the pseudo-inverse rule would store the identity.*--max-patterns" \
  "$seqlab" train --model hopfield --rule pinv --data "$tmp/wide.csv" --reader patterns \
  --reader-option label=none --split all --out "$tmp/x.h5"
expect_error "a sequence memory of single frames" "every sequence has a single frame" \
  "$seqlab" train --model hopfield --memory sequence "${six[@]}" --out "$tmp/x.h5"
check "no model file was left behind" [ ! -e "$tmp/x.h5" ]
expect_error "--per-sequence" "eval: --per-sequence gives log-likelihoods; .* is a Hopfield network" \
  "$seqlab" eval --model "$tmp/six.h5" "${six[@]}" --per-sequence
expect_error "--flip out of range" "eval: --flip must be a fraction of the units in \[0, 1\], got 2" \
  "$seqlab" eval --model "$tmp/six.h5" "${six[@]}" --flip 2
expect_error "frames of another size" "eval: model .*six.h5 has 100 units, but dataset 'patterns' has frames of 64 rows" \
  "$seqlab" eval --model "$tmp/six.h5" --data patterns
expect_ok "an HMM to compare with" "$seqlab" train --model hmm --states 1 --emission bernoulli \
  --data patterns --out "$tmp/hmm.h5" --quiet
expect_error "--flip for a model with a likelihood" "eval: --flip applies to Hopfield networks" \
  "$seqlab" eval --model "$tmp/hmm.h5" --data patterns --flip 0.2
expect_error "sample from a Hopfield network" "six.h5: holds a 'hopfield' model, an associative memory that defines no likelihood" \
  "$seqlab" sample --model "$tmp/six.h5" --length 3
expect_error "recall of an HMM" "hmm.h5: is a 'hmm' model, not a Hopfield network" \
  "$seqlab" recall --model "$tmp/hmm.h5" --stored
expect_error "recall without cues" "recall: give one source of cues" \
  "$seqlab" recall --model "$tmp/six.h5"
expect_error "recall with two sources" "recall: give one source of cues" \
  "$seqlab" recall --model "$tmp/six.h5" --stored --cue "$tmp/cue.txt"
expect_error "recall --index past the end" "recall: --index 6 is past the last stored pattern \(6 of them" \
  "$seqlab" recall --model "$tmp/six.h5" --stored --index 6
expect_error "a figure name without a format" "recall: --plot: '.*energy.jpg' names no figure format" \
  "$seqlab" recall --model "$tmp/six.h5" --stored --plot "$tmp/energy.jpg"
expect_error "an energy figure of a sequence memory" "a sequence memory \(asymmetric weights\) has no energy function" \
  "$seqlab" recall --model "$tmp/seq.h5" "${roll[@]}" --plot "$tmp/e.png"
printf '#.?x\n' >"$tmp/badcue.txt"
expect_error "a cue file with a stray character" "badcue.txt:1:4: unexpected 'x' in a cue" \
  "$seqlab" recall --model "$tmp/six.h5" --cue "$tmp/badcue.txt"
printf '#.#.#\n' >"$tmp/shortcue.txt"
expect_error "a cue file of the wrong size" "shortcue.txt: holds 5 units, expected 100" \
  "$seqlab" recall --model "$tmp/six.h5" --cue "$tmp/shortcue.txt"
expect_error "capacity without --out" "capacity: --out is required" "$seqlab" capacity
expect_error "capacity --loads" "capacity: --loads must be FROM:TO:COUNT" \
  "$seqlab" capacity --loads 0.4:0.1:5 --out "$tmp/c.h5"
expect_error "capacity --rules" "capacity: --rules: unknown rule 'oja'" \
  "$seqlab" capacity --rules hebbian,oja --out "$tmp/c.h5"
expect_error "capacity --plot" "capacity: --plot: '.*cap.txt' names no figure format" \
  "$seqlab" capacity --out "$tmp/c.h5" --plot "$tmp/cap.txt"
check "no table was written by the refused runs" [ ! -e "$tmp/c.h5" ]
cat >"$tmp/hop.toml" <<'TOML'
[experiment]
name = "hop"
seeds = [1]

[[datasets]]
name = "patterns"

[[models]]
model = "hopfield"
TOML
expect_error "an experiment with a Hopfield network" \
  "hop.toml:9:9: model hopfield defines no likelihood: experiments run sequence models only" \
  "$seqlab" run "$tmp/hop.toml" --out "$tmp/results"

# seqlab bench hopfield: a small run, every recall succeeds and the rate is a positive number.
expect_ok "bench hopfield (small)" "$seqlab" bench hopfield --units 100 --patterns 5 --cues 10 \
  --blocks 2 --no-capacity --json
check "bench hopfield recalls every cue and reports a positive rate" python3 -c '
import json, sys
row = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert row["fraction_recalled"] == 1 and row["unit_updates_per_second"] > 0, row
assert "capacity_seconds" not in row, row
' "$tmp/out"
expect_error "bench hopfield with more patterns than units" "bench hopfield: --patterns must be in \[1, --units\]" \
  "$seqlab" bench hopfield --units 10 --patterns 11

finish
