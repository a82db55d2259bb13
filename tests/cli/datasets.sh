#!/usr/bin/env bash
# tests/cli/datasets.sh: `seqlab datasets` end to end with the real binary.
# Usage: datasets.sh SEQLAB_BINARY FIXTURE_DIR. Uses SEQLAB_REGISTRY (the project's registry) and,
# when it holds tinyshakespeare, SEQLAB_DATA_PATH; everything else lives in a scratch directory.
set -u
seqlab=$1
fixtures=$2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/seqlab-cli-datasets-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export SEQLAB_CACHE_DIR="$scratch/cache"   # never touch the user's real cache
tiny_registry="$fixtures/registry/tiny.toml"

passed=0
failed=0
check() {  # check NAME COMMAND...: the command must succeed
  local name=$1
  shift
  if "$@"; then
    echo "ok - $name"
    passed=$((passed + 1))
  else
    echo "FAIL - $name"
    failed=$((failed + 1))
  fi
}

# run ARGS...: runs seqlab, keeping stdout, stderr and the exit code.
run() {
  "$seqlab" "$@" >"$scratch/out" 2>"$scratch/err"
  rc=$?
}
out_has() { grep -q -- "$1" "$scratch/out"; }
err_has() { grep -q -- "$1" "$scratch/err"; }
err_lines() { [ "$(wc -l <"$scratch/err")" -eq "$1" ]; }

# 1. list: every entry, synthetic ones marked as such.
run datasets list
check "list exits 0" [ "$rc" -eq 0 ]
check "list shows tinyshakespeare and ptb_char" bash -c "grep -q '^tinyshakespeare ' '$scratch/out' && grep -q '^ptb_char ' '$scratch/out'"
check "list marks generators as synthetic" bash -c "grep -E '^casino +symbols +generator casino +synthetic' -q '$scratch/out'"

# 2. --help everywhere.
run datasets --help
check "datasets --help exits 0" [ "$rc" -eq 0 ]
for sub in list info fetch verify true-model floor; do
  run datasets "$sub" --help
  check "datasets $sub --help prints usage" bash -c "[ $rc -eq 0 ] && grep -q 'usage: seqlab datasets $sub' '$scratch/out'"
done

# 3. info on the real data, when the mirror has it.
if [ -n "${SEQLAB_DATA_PATH:-}" ] && run datasets list && grep -E '^tinyshakespeare ' "$scratch/out" | grep -vq 'not found'; then
  run datasets info tinyshakespeare
  check "info tinyshakespeare exits 0" [ "$rc" -eq 0 ]
  check "info gives the split sizes" bash -c "grep -q 'train  1 sequences, 1003854 steps' '$scratch/out' && grep -q 'test   1 sequences, 55770 steps' '$scratch/out'"
  check "info gives the alphabet size" out_has "alphabet     65 symbols"
  check "info gives the sha256" out_has "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
else
  echo "skip - info tinyshakespeare (SEQLAB_DATA_PATH does not hold tinyshakespeare)"
fi

# 4. a typo: exit 1, one line, a suggestion.
run datasets info tinyshakspeare
check "unknown name exits 1" [ "$rc" -eq 1 ]
check "unknown name: one line on stderr" err_lines 1
check "unknown name suggests the nearest" err_has "did you mean 'tinyshakespeare'"
run datasets frobnicate
check "unknown subcommand exits 1 with one line" bash -c "[ $rc -eq 1 ] && [ \$(wc -l <'$scratch/err') -eq 1 ]"

# 5. verify: a good scratch mirror, then a corrupted copy, then nothing at all.
mkdir -p "$scratch/good/tiny" "$scratch/bad/tiny" "$scratch/empty"
cp "$fixtures/registry/mirror/tiny/tiny.txt" "$scratch/good/tiny/"
printf 'abcabcab\nabcX\n' >"$scratch/bad/tiny/tiny.txt"
SEQLAB_DATA_PATH="$scratch/good" run datasets verify tiny --registry "$tiny_registry"
check "verify a good copy exits 0" bash -c "[ $rc -eq 0 ] && grep -q '^ok .*tiny.txt' '$scratch/out'"
SEQLAB_DATA_PATH="$scratch/bad:$scratch/good" SEQLAB_REGISTRY="$tiny_registry" run datasets verify tiny
check "verify a corrupted copy exits 1" [ "$rc" -eq 1 ]
check "verify names the corrupted file" out_has "mismatch  $scratch/bad/tiny/tiny.txt"
check "loading the corrupted copy fails naming file and digest" bash -c \
  "SEQLAB_DATA_PATH='$scratch/bad' '$seqlab' datasets info tiny --registry '$tiny_registry' >/dev/null 2>'$scratch/err2'; [ \$? -eq 1 ] && grep -q 'tiny.txt: sha256 mismatch (expected a0c1e31e' '$scratch/err2'"
SEQLAB_DATA_PATH="$scratch/empty" run datasets verify tiny --registry "$tiny_registry"
check "verify with no copy exits 1 and says how to fetch" bash -c "[ $rc -eq 1 ] && grep -q \"seqlab datasets fetch tiny\" '$scratch/err'"

# 6. fetch from a file:// URL into the scratch cache, then again (skipped).
mkdir -p "$scratch/src"
cp "$fixtures/registry/mirror/tiny/tiny.txt" "$scratch/src/"
sed -e "s|^derived = .*|url = \"file://$scratch/src/tiny.txt\"|" "$tiny_registry" >"$scratch/fetch.toml"
SEQLAB_DATA_PATH="$scratch/empty" run datasets fetch tiny --registry "$scratch/fetch.toml"
check "fetch downloads into the cache" bash -c "[ $rc -eq 0 ] && grep -q '^downloaded' '$scratch/out' && cmp -s '$scratch/cache/tiny/tiny.txt' '$scratch/src/tiny.txt'"
SEQLAB_DATA_PATH="$scratch/empty" run datasets fetch tiny --registry "$scratch/fetch.toml"
check "a second fetch skips the verified file" bash -c "[ $rc -eq 0 ] && grep -q '^already present' '$scratch/out'"
SEQLAB_DATA_PATH="$scratch/empty" run datasets fetch tiny --registry "$tiny_registry"
check "fetch of a derived-only file already in the cache is fine" [ "$rc" -eq 0 ]
rm -rf "$scratch/cache"
SEQLAB_DATA_PATH="$scratch/empty" run datasets fetch tiny --registry "$tiny_registry"
check "fetch of a derived-only file says it must come from a mirror" bash -c "[ $rc -eq 1 ] && grep -q 'must come from a mirror' '$scratch/err' && [ \$(wc -l <'$scratch/err') -eq 1 ]"

# 7. floor: the generating process's NLL (copy: 10 symbols of 8 random in 31 steps = 30/31 bits).
run datasets floor copy --json
check "floor of copy exits 0" [ "$rc" -eq 0 ]
check "floor of copy is 30/31 bits per symbol" bash -c "grep -q '\"nll_bits\": 0.9677419354838' '$scratch/out'"
run datasets floor casino --split valid
check "floor of casino (its true HMM) exits 0" bash -c "[ $rc -eq 0 ] && grep -q 'casino \[valid\] under its generator (casino)' '$scratch/out'"
run datasets floor adding
check "floor of a generator without a closed form: exit 1, one line" bash -c "[ $rc -eq 1 ] && [ \$(wc -l <'$scratch/err') -eq 1 ] && grep -q 'no closed-form likelihood' '$scratch/err'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
