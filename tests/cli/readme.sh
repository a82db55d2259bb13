#!/usr/bin/env bash
# tests/cli/readme.sh SEQLAB FIXTURES: every command of the README's five-minute tour runs, and
# the examples that claim a result show it. Commands on real datasets run when a mirror holds
# them (SEQLAB_DATA_PATH), else they are listed as skipped.
set -u
seqlab=$1
root=$(cd "$2/../.." && pwd)
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

has_real() {
  local d
  for d in ${SEQLAB_DATA_PATH:+${SEQLAB_DATA_PATH//:/ }}; do [ -d "$d/$1" ] && return 0; done
  return 1
}

# The tour: the first sh block after its heading; /tmp/ becomes the scratch dir, README.md the
# checkout's README, `seqlab` the binary under test.
awk '/^## A five-minute tour/ { tour = 1 } tour && /^```sh/ { inside = 1; next }
     inside && /^```/ { exit } inside && /^seqlab / { print }' "$root/README.md" >"$tmp/tour"
[ "$(wc -l <"$tmp/tour")" -ge 20 ] && ok "found $(wc -l <"$tmp/tour") tour commands" || bad "tour commands: $(wc -l <"$tmp/tour")"
cd "$tmp" || exit 1
cp "$root/README.md" README.md
n=0
while IFS= read -r line; do
  n=$((n + 1))
  cmd=${line//\/tmp\//$tmp\/}
  cmd=${cmd/#seqlab /\"\$seqlab\" }
  if [[ $cmd == *jsb_chorales* ]] && ! has_real jsb_chorales; then
    echo "skip - tour command $n needs the jsb_chorales mirror: $line"
    continue
  fi
  if [[ $cmd == *jsb-hmm* || $cmd == *jsb-crbm* ]] && ! has_real jsb_chorales; then
    echo "skip - tour command $n uses the jsb_chorales model: $line"
    continue
  fi
  if bash -c "seqlab='$seqlab'; set -o pipefail; $cmd" >"$tmp/out.$n" 2>"$tmp/err.$n"; then
    ok "tour $n: ${line:0:90}"
  else
    bad "tour $n exits non-zero: $line ($(head -c 300 "$tmp/err.$n"))"
  fi
done <"$tmp/tour"

# The claims next to the examples.
gru=$(grep -n -- "--model gru --hidden 32 --window 0" "$tmp/tour" | cut -d: -f1)
if grep -q "no valid improvement" "$tmp/err.$gru" &&
   awk '/in [0-9.]+ s;/ { for (i = 1; i <= NF; i++) if ($i == "in") s = $(i + 1) } END { exit !(s < 20) }' "$tmp/out.$gru"; then
  ok "the GRU example stops early, inside its time budget"
else
  bad "the GRU example: $(tail -n 3 "$tmp/err.$gru") / $(head -n 1 "$tmp/out.$gru")"
fi
floor=$("$seqlab" datasets floor casino --split valid --json | sed -nE 's/.*"nll_nats": ([0-9.e+-]+).*/\1/p')
valid=$(awk '/^valid/ { v = 1 } v && /^NLL/ { print $2; exit }' "$tmp/out.$gru")
if python3 -c "import sys; sys.exit(not (float(sys.argv[2]) - float(sys.argv[1]) < 0.01))" "$floor" "$valid"; then
  ok "the GRU's valid NLL $valid is within 0.01 nats of the floor $floor"
else
  bad "the GRU's valid NLL $valid vs floor $floor"
fi
adding=$(grep -n -- "--task regress" "$tmp/tour" | cut -d: -f1)
mse=$(awk '/^valid/ { v = 1 } v && /^MSE/ { print $2; exit }' "$tmp/out.$adding")
if python3 -c "import sys; sys.exit(not float(sys.argv[1]) < 0.01)" "$mse"; then
  ok "the adding-problem example learns: valid MSE $mse (baseline about 0.16)"
else
  bad "the adding-problem example: valid MSE '$mse'"
fi
finish
