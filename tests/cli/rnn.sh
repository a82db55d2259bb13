#!/usr/bin/env bash
# tests/cli/rnn.sh SEQLAB FIXTURES: recurrent models (rnn, leaky, jordan, lstm, gru; rnn and leaky
# with --delay) end to end through train, eval and sample, on a tiny text, a tiny piano roll and
# the synthetic brackets dataset, and the option and file errors: each error must be ONE line on
# stderr naming the option or file, with exit code 1.
set -u
seqlab=$1
fixtures=$2/rnn
rolls=$2/hmm_frames
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

text=$fixtures/tiny.txt
small=(--hidden 16 --window 25 --batch 4 --lr 0.01 --data "$text" --split all --quiet)

# --- LSTM: train, eval, sample --------------------------------------------------------------------
lstm=$tmp/lstm.h5
expect_ok "train a small LSTM on a text file" "$seqlab" train --model lstm --epochs 40 "${small[@]}" --out "$lstm"
expect_ok "eval the LSTM --json" "$seqlab" eval --model "$lstm" --data "$fixtures/tiny_eval.txt" --split all --json
nll=$(json_number nll_nats)
# The text uses 20 distinct characters: a uniform guess costs log 20 = 3.0 nats.
if [ -n "$nll" ] && awk -v x="$nll" 'BEGIN { exit !(x < 2.6) }'; then
  ok "the LSTM learned something: held-out NLL $nll < 2.6 nats/symbol"
else
  bad "held-out NLL '$nll' is not below 2.6 nats/symbol ($(tail -n 1 "$tmp/out"))"
fi
expect_ok "sample with a prime" "$seqlab" sample --model "$lstm" --length 40 --seed 3 --prime "the "
if head -c 4 "$tmp/out" | grep -q "the "; then ok "sample starts with the prime"; else bad "sample output: $(cat "$tmp/out")"; fi
"$seqlab" sample --model "$lstm" --length 60 --seed 4 >"$tmp/s1"
"$seqlab" sample --model "$lstm" --length 60 --seed 4 >"$tmp/s2"
if cmp -s "$tmp/s1" "$tmp/s2"; then ok "same seed, same sample"; else bad "same seed gave different samples"; fi
"$seqlab" sample --model "$lstm" --length 60 --seed 1 --temperature 0 >"$tmp/g1"
"$seqlab" sample --model "$lstm" --length 60 --seed 2 --temperature 0 >"$tmp/g2"
if cmp -s "$tmp/g1" "$tmp/g2"; then ok "temperature 0 is greedy (seed-independent)"; else bad "greedy samples differ"; fi
"$seqlab" train --model lstm --epochs 3 "${small[@]}" --seed 9 --out "$tmp/a.h5"
"$seqlab" train --model lstm --epochs 3 "${small[@]}" --seed 9 --out "$tmp/b.h5"
"$seqlab" eval --model "$tmp/a.h5" --data "$text" --split all --json >"$tmp/out"
first=$(json_number log_likelihood)
"$seqlab" eval --model "$tmp/b.h5" --data "$text" --split all --json >"$tmp/out"
second=$(json_number log_likelihood)
if [ -n "$first" ] && [ "$first" = "$second" ]; then ok "same seed, same trained model ($first nats)"
else bad "same seed gave different models: '$first' vs '$second'"; fi

# --- GRU and the other cells, with their own options ----------------------------------------------
expect_ok "train a 2-layer residual GRU (pytorch variant) with dropout" \
  "$seqlab" train --model gru --gru-variant pytorch --layers 2 --residual --dropout 0.1 --epochs 5 \
  "${small[@]}" --out "$tmp/gru.h5"
expect_ok "eval the GRU" "$seqlab" eval --model "$tmp/gru.h5" --data "$fixtures/tiny_eval.txt" --split all
expect_ok "sample from the GRU" "$seqlab" sample --model "$tmp/gru.h5" --length 30 --temperature 0.7
expect_ok "train a leaky RNN with trained time constants" \
  "$seqlab" train --model leaky --tau 3 --train-tau --epochs 3 "${small[@]}" --out "$tmp/leaky.h5"
expect_ok "train an Elman RNN with relu, sgd and a cosine schedule" \
  "$seqlab" train --model rnn --activation relu --optimizer sgd --schedule cosine --epochs 3 \
  "${small[@]}" --out "$tmp/elman.h5"
expect_ok "train --model lstm --help" "$seqlab" train --help
if grep -q -- "--gru-variant" "$tmp/out"; then ok "train --help lists the recurrent options"; else bad "train --help lacks --gru-variant"; fi
if grep -q -- "--delay D" "$tmp/out" && grep -q "jordan" "$tmp/out"; then ok "train --help lists jordan and --delay"
else bad "train --help lacks jordan or --delay"; fi

# --- Jordan networks and delay connections on brackets (synthetic, valid split) -----------------------
brackets=(--hidden 12 --window 21 --batch 8 --epochs 2 --lr 0.01 --data brackets --quiet)
for variant in "jordan:--model jordan" "jordan-relu:--model jordan --activation relu" \
               "rnn-delay:--model rnn --delay 3" "leaky-delay:--model leaky --tau 2 --delay 4 --layers 2 --residual"; do
  name=${variant%%:*}
  read -r -a flags <<<"${variant#*:}"
  expect_ok "train $name on brackets" "$seqlab" train "${flags[@]}" "${brackets[@]}" --json --out "$tmp/$name.h5"
  trained=$(json_number valid_nll_nats)
  expect_ok "eval $name on the test split" "$seqlab" eval --model "$tmp/$name.h5" --data brackets --split test --json
  scored=$(json_number nll_nats)
  # 3 symbols ( ) $: a uniform guess costs log 3 = 1.10 nats.
  if [ -n "$scored" ] && awk -v x="$scored" 'BEGIN { exit !(x < 1.0) }'; then
    ok "$name learned something: test NLL $scored < 1.0 nats/symbol (valid $trained)"
  else
    bad "$name: test NLL '$scored' is not below 1.0 nats/symbol ($(tail -n 1 "$tmp/out"))"
  fi
  expect_ok "sample from $name" "$seqlab" sample --model "$tmp/$name.h5" --length 42 --seed 5 --temperature 0.5
  if [ "$(tr -d '()$\n' <"$tmp/out" | wc -c)" -eq 0 ] && [ "$(tr -d '\n' <"$tmp/out" | wc -c)" -eq 42 ]; then
    ok "$name samples 42 bracket symbols"
  else
    bad "$name sample: $(head -c 200 "$tmp/out")"
  fi
done
"$seqlab" sample --model "$tmp/rnn-delay.h5" --length 60 --seed 8 >"$tmp/d1"
"$seqlab" sample --model "$tmp/rnn-delay.h5" --length 60 --seed 8 >"$tmp/d2"
if cmp -s "$tmp/d1" "$tmp/d2"; then ok "delay model: same seed, same sample"; else bad "delay model: same seed gave different samples"; fi

# --- binary frames (piano roll) -------------------------------------------------------------------
expect_ok "train an LSTM on a piano roll" "$seqlab" train --model lstm --hidden 8 --window 10 --batch 2 \
  --epochs 3 --data "$rolls/roll.txt" --reader pianoroll --split all --quiet --out "$tmp/roll.h5"
expect_ok "eval it on another roll" "$seqlab" eval --model "$tmp/roll.h5" --data "$rolls/roll_eval.txt" \
  --reader pianoroll --split all --json
expect_ok "sample piano-roll frames" "$seqlab" sample --model "$tmp/roll.h5" --length 5
if [ "$(wc -l <"$tmp/out")" -eq 5 ]; then ok "one line per sampled frame"; else bad "frame sample: $(cat "$tmp/out")"; fi

# --- errors -----------------------------------------------------------------------------------------
expect_error "--tau for an LSTM" "--tau applies to --model leaky only \(got --model lstm\)" \
  "$seqlab" train --model lstm --tau 2 "${small[@]}" --out "$tmp/x.h5"
expect_error "--gru-variant for an LSTM" "--gru-variant applies to --model gru only" \
  "$seqlab" train --model lstm --gru-variant cho "${small[@]}" --out "$tmp/x.h5"
expect_error "--activation for a GRU" "--activation applies to --model rnn, leaky or jordan only" \
  "$seqlab" train --model gru --activation relu "${small[@]}" --out "$tmp/x.h5"
expect_error "--delay for an LSTM" "--delay applies to --model rnn or leaky only \(got --model lstm\)" \
  "$seqlab" train --model lstm --delay 3 "${small[@]}" --out "$tmp/x.h5"
expect_error "--delay for a Jordan network" "--delay applies to --model rnn or leaky only \(got --model jordan\)" \
  "$seqlab" train --model jordan --delay 3 "${small[@]}" --out "$tmp/x.h5"
expect_error "--delay 1" "--delay must be between 2 and 100000 steps, got 1" \
  "$seqlab" train --model rnn --delay 1 "${small[@]}" --out "$tmp/x.h5"
expect_error "--delay for a Markov chain" "--delay applies to --model rnn or leaky only \(got --model markov\)" \
  "$seqlab" train --model markov --delay 3 --data "$text" --split all --out "$tmp/x.h5"
expect_error "--epochs for a Markov chain" "--epochs applies to --model rnn, leaky, jordan, lstm, gru, rbm, bm or crbm only" \
  "$seqlab" train --model markov --epochs 3 --data "$text" --split all --out "$tmp/x.h5"
expect_error "an unknown model" "unknown --model 'transformer'" \
  "$seqlab" train --model transformer --data "$text" --split all --out "$tmp/x.h5"
expect_error "--hidden 0" "--hidden must be between 1 and" \
  "$seqlab" train --model lstm --hidden 0 --data "$text" --split all --out "$tmp/x.h5"
expect_error "--dropout 1.5" "--dropout must be in \[0, 1\)" \
  "$seqlab" train --model gru --dropout 1.5 "${small[@]}" --out "$tmp/x.h5"
expect_error "--residual with one layer" "--residual needs --layers 2" \
  "$seqlab" train --model lstm --residual "${small[@]}" --out "$tmp/x.h5"
expect_error "an unknown optimizer" "--optimizer must be adam, sgd or rmsprop, got 'adamw'" \
  "$seqlab" train --model lstm --optimizer adamw "${small[@]}" --out "$tmp/x.h5"
expect_error "an unknown schedule" "--schedule must be constant, step, cosine or plateau, got 'linear'" \
  "$seqlab" train --model lstm --schedule linear "${small[@]}" --out "$tmp/x.h5"
expect_error "a leaky tau below 1" "tau must be a finite number >= 1" \
  "$seqlab" train --model leaky --tau 0.5 "${small[@]}" --out "$tmp/x.h5"
expect_error "--embedding for frames" "--embedding applies to symbol data" \
  "$seqlab" train --model lstm --embedding 4 --data "$rolls/roll.txt" --reader pianoroll --split all \
  --out "$tmp/x.h5"
if [ ! -e "$tmp/x.h5" ]; then ok "no model file written after an error"; else bad "a model file was written after an error"; fi
expect_error "--temperature for a Markov chain" "--temperature applies to recurrent models" \
  bash -c "'$seqlab' train --model markov --data '$text' --split all --out '$tmp/mk.h5' --quiet && \
           '$seqlab' sample --model '$tmp/mk.h5' --length 5 --temperature 0"
expect_error "a negative temperature" "--temperature must be a number >= 0" \
  "$seqlab" sample --model "$lstm" --length 5 --temperature -1
head -c 2000 "$lstm" >"$tmp/truncated.h5"
expect_error "a truncated model file" "truncated.h5" \
  "$seqlab" eval --model "$tmp/truncated.h5" --data "$text" --split all
expect_error "eval a text model on a piano roll" "models symbols" \
  "$seqlab" eval --model "$lstm" --data "$rolls/roll.txt" --reader pianoroll --split all

expect_error "a plateau schedule that never cuts" "--schedule plateau needs --lr-gamma below 1" \
  "$seqlab" train --model lstm --schedule plateau --lr-gamma 1 "${small[@]}" --out "$tmp/x.h5"
expect_error "--clip-value below 0" "--clip-value must be a number >= 0" \
  "$seqlab" train --model gru --clip-value -1 "${small[@]}" --out "$tmp/x.h5"
expect_error "--max-time below 0" "--max-time must be a number of seconds >= 0" \
  "$seqlab" train --model gru --max-time -5 "${small[@]}" --out "$tmp/x.h5"
expect_error "--valid-every 0" "--valid-every must be between 1 and" \
  "$seqlab" train --model lstm --valid-every 0 "${small[@]}" --out "$tmp/x.h5"
expect_error "--valid-every with --task" "--valid-every applies to next-step models only" \
  "$seqlab" train --model gru --task classify --valid-every 2 --data "$text" --split all --quiet \
  --out "$tmp/x.h5"
expect_error "--average 1" "--average must be a decay in \(0, 1\)" \
  "$seqlab" train --model lstm --average 1 "${small[@]}" --out "$tmp/x.h5"
expect_error "--average with --task" "--average applies to next-step models only" \
  "$seqlab" train --model gru --task classify --average 0.9 --data "$text" --split all --quiet \
  --out "$tmp/x.h5"

# Full BPTT (--window 0) over the casino's whole sequences, a plateau schedule with warm-up and
# element clipping, and a wall-clock budget: all train and score.
if "$seqlab" train --model gru --hidden 8 --window 0 --batch 8 --epochs 3 --schedule plateau \
     --lr-gamma 0.5 --warmup 5 --clip-value 0.5 --max-time 60 --data casino --out "$tmp/full.h5" \
     >"$tmp/full.out" 2>&1 && grep -q "8 streams x 300 steps" "$tmp/full.out" && \
   "$seqlab" eval --model "$tmp/full.h5" --data casino --split test >/dev/null; then
  ok "full BPTT with plateau schedule, warm-up, element clipping and a time budget"
else
  bad "full BPTT with plateau schedule, warm-up, element clipping and a time budget"
  cat "$tmp/full.out"
fi

# In a log (stderr not a terminal) the progress line is written every --log-every seconds as an
# ordinary line, so a long first epoch shows it is alive; never with carriage returns. The model
# reports progress at most every 0.5 s, so the run must last a few seconds on a fast machine too.
for i in 1 2 3 4 5 6 7 8; do cat "$2/../../README.md"; done >"$tmp/long.txt"
"$seqlab" train --model lstm --hidden 192 --epochs 2 --data "$tmp/long.txt" --log-every 0 --out "$tmp/long.h5" >/dev/null 2>"$tmp/log"
if grep -q "^lstm: epoch [12] window [0-9]*/[0-9]*, train NLL" "$tmp/log" && ! grep -q $'\r' "$tmp/log"; then
  ok "--log-every 0 writes progress lines to a log, without carriage returns"
else
  bad "progress in a log: $(head -c 300 "$tmp/log")"
fi
# A fixed, small input (not the README, which grows): well under 10 s even on a loaded machine.
head -c 20000 "$tmp/long.txt" >"$tmp/short.txt"
"$seqlab" train --model lstm --hidden 192 --epochs 1 --data "$tmp/short.txt" --out "$tmp/long.h5" >/dev/null 2>"$tmp/log"
if ! grep -q "window" "$tmp/log" && grep -q "^lstm: epoch 1/1" "$tmp/log"; then
  ok "by default a run shorter than 10 s logs the start and epoch lines only"
else
  bad "default log: $(head -c 300 "$tmp/log")"
fi
expect_error "--log-every -1" "train: --log-every must be a number in \[0, 1e\+09\], got -1" \
  "$seqlab" train --model lstm --log-every -1 --data "$tmp/long.txt" --out "$tmp/long.h5"

finish
