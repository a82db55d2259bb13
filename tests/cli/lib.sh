# tests/cli/lib.sh: what the CLI test scripts share, sourced by each: a scratch directory ($tmp,
# removed on exit), pass/fail counting and the checks every script makes. A script ends with
# `finish`, which prints the counts and fails when any check failed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; failed=$((failed + 1)); }

# expect_error NAME REGEX CMD...: exit 1, exactly one stderr line, matching REGEX.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" -ne 1 ]; then
    bad "$name: exit code $rc, expected 1 ($(head -c 300 "$tmp/err"))"
  elif [ "$lines" -ne 1 ]; then
    bad "$name: $lines lines on stderr, expected 1: $(head -c 300 "$tmp/err")"
  elif ! grep -Eq -- "$pattern" "$tmp/err"; then
    bad "$name: message '$(cat "$tmp/err")' does not match /$pattern/"
  else
    ok "$name: $(cat "$tmp/err")"
  fi
}

# expect_ok NAME CMD...: exit 0 (stdout in $tmp/out, stderr in $tmp/err).
expect_ok() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$name"; else bad "$name: exit $? ($(head -c 300 "$tmp/err"))"; fi
}

# check NAME CMD...: the command (a condition, run as given) must succeed; a failure shows the
# start of the last expect_ok/expect_error command's stdout and stderr.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name (out: $(head -c 200 "$tmp/out"); err: $(head -c 200 "$tmp/err"))"; fi
}

# csv_numbers CSV: a results.csv without its wall_seconds and date columns, rows sorted: what two
# runs of one experiment must agree on.
csv_numbers() {
  local header cut_list="" i=0 name names
  header=$(head -n 1 "$1")
  IFS=, read -r -a names <<<"$header"
  for name in "${names[@]}"; do
    i=$((i + 1))
    case $name in wall_seconds | date) ;; *) cut_list+="${cut_list:+,}$i" ;; esac
  done
  cut -d , -f "$cut_list" "$1" | sort
}

# json_number KEY: the number after "KEY": on the last line of $tmp/out.
json_number() { tail -n 1 "$tmp/out" | sed -nE "s/.*\"$1\": ([-0-9.e+]+).*/\1/p"; }

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
