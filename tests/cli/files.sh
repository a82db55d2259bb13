#!/usr/bin/env bash
# tests/cli/files.sh SEQLAB FIXTURES: how seqlab writes files and standard output. Every output
# file is written to a temp file, checked at each step, synced and renamed; a failed write (full
# disk, file-size limit), a diverged model, or an output path that is not a plain file must give
# ONE stderr line naming the file and the reason, exit 1, leave an existing file byte-identical and
# leave no temp file behind. Standard output that cannot be written is an error too.
#
# The full-disk checks need a small file system: the script re-runs itself in a private mount
# namespace (unshare -m) where it may mount a tmpfs that vanishes with it; where that is not
# allowed they say "skip". The file-size-limit checks (ulimit -f) stand in for a full disk and
# always run.
set -u
seqlab=$1
fixtures=$2/cli

if [ -z "${SEQLAB_FILES_NAMESPACE:-}" ] && command -v unshare >/dev/null 2>&1; then
  export SEQLAB_FILES_NAMESPACE=1
  if unshare -m true 2>/dev/null; then exec unshare -m bash "$0" "$@"; fi
  if unshare -rm true 2>/dev/null; then exec unshare -rm bash "$0" "$@"; fi
fi
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
small=$tmp/small
trap 'umount "$small" 2>/dev/null; rm -rf "$tmp"' EXIT

# no_temp_files DIR NAME: the check that no "*.tmp.<pid>" file was left in DIR.
no_temp_files() {
  local left
  left=$(find "$1" -maxdepth 1 -name '*.tmp.*' | head -n 3)
  if [ -z "$left" ]; then ok "$2: no temp file left"; else bad "$2: temp files left: $left"; fi
}
# unchanged COPY FILE NAME: FILE is byte-identical to COPY.
unchanged() {
  if cmp -s "$1" "$2"; then ok "$3: the existing file is unchanged"; else bad "$3: the existing file changed"; fi
}
# limited BLOCKS CMD...: CMD with files limited to BLOCKS KiB (writing more fails with EFBIG once
# SIGXFSZ is ignored, which seqlab does; without that the process is killed).
limited() {
  local blocks=$1
  shift
  (ulimit -f "$blocks" && exec "$@")
}

# A good model, and a bigger one (about 170 KB) whose write a small limit stops.
good=$tmp/good.h5
"$seqlab" train --model markov --order 2 --data "$fixtures/tiny.txt" --split all --out "$good" --quiet
"$seqlab" train --model hmm --states 2 --max-iter 3 --data "$fixtures/tiny.txt" --split all --out "$tmp/hmm.h5" --quiet
"$seqlab" train --model hmm --states 2 --max-iter 3 --data casino --out "$tmp/casino-hmm.h5" --quiet
big_train=(train --model lstm --hidden 96 --epochs 1 --data "$fixtures/tiny.txt" --split all --quiet)

# --- item 4: a write that fails (file-size limit) keeps the old file and leaves no temp ----------
mkdir "$tmp/lim"
cp "$good" "$tmp/lim/m.h5"
expect_error "train --out over the file-size limit" "m\.h5: cannot write: File too large \(an existing file there is left unchanged\)" \
  limited 64 "$seqlab" "${big_train[@]}" --out "$tmp/lim/m.h5"
unchanged "$good" "$tmp/lim/m.h5" "train over the file-size limit"
no_temp_files "$tmp/lim" "train over the file-size limit"
cp "$good" "$tmp/lim/paths.h5"
expect_error "decode --out over the file-size limit" "paths\.h5: cannot write: File too large" \
  limited 1 "$seqlab" decode --model "$tmp/hmm.h5" --data "$fixtures/tiny.txt" --split all --out "$tmp/lim/paths.h5"
unchanged "$good" "$tmp/lim/paths.h5" "decode over the file-size limit"
no_temp_files "$tmp/lim" "decode over the file-size limit"
expect_error "datasets true-model --out over the file-size limit" "true\.h5: cannot write: File too large \(no file was written\)" \
  limited 1 "$seqlab" datasets true-model casino --out "$tmp/lim/true.h5"
[ -e "$tmp/lim/true.h5" ] && bad "true-model over the limit created the file" || ok "true-model over the limit created no file"
expect_error "sample > a file over the file-size limit" "cannot write to standard output: File too large" \
  limited 8 bash -c '"$1" sample --model "$2" --length 100000 --seed 1 >"$3"' _ "$seqlab" "$good" "$tmp/lim/s.txt"

# --- item 4 on a real full disk (tmpfs) -------------------------------------------------------
mkdir "$small"
if [ -n "${SEQLAB_FILES_NAMESPACE:-}" ] && mount -t tmpfs -o size=1m tmpfs "$small" 2>/dev/null; then
  cp "$good" "$small/m.h5"
  cp "$good" "$small/paths.h5"
  cat /dev/zero >"$small/fill" 2>/dev/null
  truncate -s -32K "$small/fill"  # about 32 KB left: less than the LSTM model, more than the rest
  expect_error "train --out on a full disk" "m\.h5: cannot write: No space left on device \(an existing file there is left unchanged\)" \
    "$seqlab" "${big_train[@]}" --out "$small/m.h5"
  unchanged "$good" "$small/m.h5" "train on a full disk"
  no_temp_files "$small" "train on a full disk"
  head -c 28K /dev/zero >>"$small/fill"  # about 4 KB left: less than the paths file
  expect_error "decode --out on a full disk" "paths\.h5: cannot write: No space left on device" \
    "$seqlab" decode --model "$tmp/casino-hmm.h5" --data casino --split test --out "$small/paths.h5"
  unchanged "$good" "$small/paths.h5" "decode on a full disk"
  no_temp_files "$small" "decode on a full disk"
  expect_error "sample > a file on a full disk" "cannot write to standard output: No space left on device" \
    bash -c '"$1" sample --model "$2" --length 1000000 --seed 1 >"$3"' _ "$seqlab" "$good" "$small/s.txt"
  rm -f "$small/fill" "$small/s.txt"
  expect_ok "train --out once there is space again" "$seqlab" "${big_train[@]}" --out "$small/m.h5"
  if cmp -s "$good" "$small/m.h5"; then bad "train with space did not replace the file"; else ok "train with space replaced the file"; fi
  no_temp_files "$small" "train with space"
  # A read-only file system: refused up front, naming the directory.
  mkdir "$tmp/ro"
  if mount -t tmpfs -o ro,size=64k tmpfs "$tmp/ro" 2>/dev/null; then
    expect_error "train --out on a read-only file system" "ro/m\.h5: output directory '.*ro' is not writable \(Read-only file system\)" \
      "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/ro/m.h5" --quiet
    umount "$tmp/ro"
  else
    echo "skip - read-only tmpfs checks: cannot mount"
  fi
else
  echo "skip - full-disk (tmpfs) checks: cannot mount a tmpfs here (the file-size-limit checks above stand in)"
fi

# --- item 7: standard output that cannot be written is an error --------------------------------
if [ -w /dev/full ]; then
  for args in "eval --model $good --data $fixtures/tiny.txt --split all" \
              "eval --model $good --data $fixtures/tiny.txt --split all --json" \
              "sample --model $good --length 100 --seed 1" \
              "decode --model $tmp/hmm.h5 --data $fixtures/tiny.txt --split all" \
              "datasets list" \
              "datasets info casino" \
              "train --model markov --data $fixtures/tiny.txt --out $tmp/full-stdout.h5 --json --quiet" \
              "--version" \
              "train --help"; do
    # shellcheck disable=SC2086
    expect_error "${args%% --*} > /dev/full" "^seqlab: error: cannot write to standard output: No space left on device$" \
      bash -c '"$0" "$@" >/dev/full' "$seqlab" $args
  done
else
  echo "skip - /dev/full checks: no /dev/full"
fi

# --- item 5: an output path that is not a plain file is refused, and left as it was -------------
mkfifo "$tmp/fifo"
expect_error "train --out FIFO" "fifo: is a FIFO \(named pipe\), expected a regular file or a new path" \
  "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/fifo" --quiet
[ -p "$tmp/fifo" ] && ok "the FIFO is still a FIFO" || bad "train --out replaced the FIFO"
expect_error "decode --out FIFO" "fifo: is a FIFO" \
  "$seqlab" decode --model "$tmp/hmm.h5" --data "$fixtures/tiny.txt" --split all --out "$tmp/fifo"
expect_error "datasets true-model --out FIFO" "fifo: is a FIFO" \
  "$seqlab" datasets true-model casino --out "$tmp/fifo"
[ -p "$tmp/fifo" ] && ok "the FIFO is still a FIFO after decode and true-model" || bad "the FIFO was replaced"
if mknod "$tmp/null" c 1 3 2>/dev/null; then
  expect_error "train --out a character device" "null: is a character device, expected a regular file or a new path" \
    "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/null" --quiet
  [ -c "$tmp/null" ] && ok "the device node is still a device" || bad "train --out replaced the device node"
else
  echo "skip - device node checks: cannot mknod"
fi
if python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/sock" 2>/dev/null; then
  expect_error "train --out a socket" "sock: is a socket, expected a regular file or a new path" \
    "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/sock" --quiet
  [ -S "$tmp/sock" ] && ok "the socket is still a socket" || bad "train --out replaced the socket"
else
  echo "skip - socket checks: cannot create a UNIX socket"
fi
cp "$good" "$tmp/target.h5"
ln -s target.h5 "$tmp/link.h5"
expect_error "train --out a symlink" "link\.h5: is a symbolic link; seqlab never writes through a symbolic link" \
  "$seqlab" train --model hmm --states 2 --max-iter 2 --data "$fixtures/tiny.txt" --out "$tmp/link.h5" --quiet
[ -L "$tmp/link.h5" ] && ok "the symlink is still a symlink" || bad "train --out replaced the symlink"
unchanged "$good" "$tmp/target.h5" "train --out a symlink"
ln -s nowhere.h5 "$tmp/dangling.h5"
expect_error "decode --out a dangling symlink" "dangling\.h5: is a symbolic link" \
  "$seqlab" decode --model "$tmp/hmm.h5" --data "$fixtures/tiny.txt" --split all --out "$tmp/dangling.h5"
[ -L "$tmp/dangling.h5" ] && [ ! -e "$tmp/nowhere.h5" ] && ok "the dangling symlink is left alone" || bad "decode --out wrote through the dangling symlink"
expect_error "train --out a directory" "is a directory, expected a file path" \
  "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp" --quiet
expect_error "train --out ending in /" "new\.h5/: ends in '/', expected a file name" \
  "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/new.h5/" --quiet
expect_error "train --out under a file" "output directory '.*good\.h5' is not a directory" \
  "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$good/m.h5" --quiet

# --- item 15: outputs are checked before any training ------------------------------------------
SECONDS=0
expect_error "train --out ''" "the output path is empty, expected a file name" \
  "$seqlab" train --model lstm --hidden 256 --epochs 3000 --data "$fixtures/tiny.txt" --out "" --quiet
[ "$SECONDS" -le 1 ] && ok "train --out '' fails before training (${SECONDS} s)" || bad "train --out '' took $SECONDS s: it trained first"
expect_error "decode --out ''" "the output path is empty" \
  "$seqlab" decode --model "$tmp/hmm.h5" --data "$fixtures/tiny.txt" --split all --out ""
expect_error "datasets true-model --out ''" "the output path is empty" \
  "$seqlab" datasets true-model casino --out ""

# --- extra: an output that is one of the inputs is refused up front ----------------------------
cp "$tmp/hmm.h5" "$tmp/hmm-copy.h5"
expect_error "decode --out = --model" "hmm\.h5: --out names the same file as --model \(the output would replace the input\)" \
  "$seqlab" decode --model "$tmp/hmm.h5" --data "$fixtures/tiny.txt" --split all --out "$tmp/hmm.h5"
expect_error "decode --out = --model spelled differently" "--out names the same file as --model" \
  "$seqlab" decode --model "$tmp/hmm.h5" --data "$fixtures/tiny.txt" --split all --out "$tmp/../$(basename "$tmp")/hmm.h5"
unchanged "$tmp/hmm-copy.h5" "$tmp/hmm.h5" "decode --out = --model"
cp "$fixtures/tiny.txt" "$tmp/data.txt"
expect_error "decode --out = --data" "data\.txt: --out names the same file as --data" \
  "$seqlab" decode --model "$tmp/hmm.h5" --data "$tmp/data.txt" --split all --out "$tmp/data.txt"
expect_error "train --out = --data" "data\.txt: --out names the same file as --data" \
  "$seqlab" train --model markov --data "$tmp/data.txt" --out "$tmp/data.txt" --quiet
unchanged "$fixtures/tiny.txt" "$tmp/data.txt" "train --out = --data"

# --- item 6: a diverged model is never written -------------------------------------------------
cp "$good" "$tmp/div.h5"
expect_error "train --lr 1e300 (diverges)" "div\.h5: training diverged \(non-finite parameters in '/.*'\): the model was not written; try a lower --lr or a smaller --clip" \
  "$seqlab" train --model rnn --hidden 16 --epochs 2 --lr 1e300 --data "$fixtures/tiny.txt" --split all --out "$tmp/div.h5" --quiet
unchanged "$good" "$tmp/div.h5" "a diverged RNN"
no_temp_files "$tmp" "a diverged RNN"
expect_error "train --task classify --lr 1e300 (diverges)" "div\.h5: training diverged \(non-finite parameters in '/.*'\): the model was not written; try a lower --lr or a smaller --clip" \
  "$seqlab" train --model rnn --task classify --hidden 8 --epochs 2 --lr 1e300 --data patterns --out "$tmp/div.h5" --quiet
unchanged "$good" "$tmp/div.h5" "a diverged task network"
# A full-covariance HMM on data whose scales span 1e-3 .. 1e99: one line with the cure, not an
# internal error.
awk 'BEGIN { print "x,y"; for (i = 0; i < 200; i++) { s = i % 50 == 0 ? 1e99 : 1e-3;
     printf "%.17g,%.17g\n", s * sin(i * 1.3), s * cos(i * 0.7) } }' >"$tmp/scales.csv"
expect_error "train a full-covariance HMM that diverges" "training diverged: the full covariance of state [0-9]+ is no longer positive definite.*standardise the data" \
  "$seqlab" train --model hmm --emission gaussian_full --states 4 --data "$tmp/scales.csv" --split all --out "$tmp/div.h5" --quiet
unchanged "$good" "$tmp/div.h5" "a diverged HMM"

# --- item 8: temp files of killed runs are removed when their target is written next ---------
bash -c 'exit 0' &
dead=$!
wait "$dead"
head -c 2000 /dev/zero >"$tmp/m.h5.tmp.$dead"
head -c 2000 /dev/zero >"$tmp/m.h5.tmp.$$"
head -c 2000 /dev/zero >"$tmp/other.h5.tmp.$dead"
expect_ok "train --out next to stale temp files" \
  "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/m.h5" --quiet
[ ! -e "$tmp/m.h5.tmp.$dead" ] && ok "the temp file of a dead process is removed" || bad "the stale temp file of pid $dead is still there"
[ -e "$tmp/m.h5.tmp.$$" ] && ok "the temp file of a live process is kept" || bad "the temp file of the live pid $$ was removed"
[ -e "$tmp/other.h5.tmp.$dead" ] && ok "another target's temp file is kept" || bad "another target's temp file was removed"
rm -f "$tmp"/*.tmp.*
# A run killed while it writes leaves at most its own temp file, which the next write removes.
"$seqlab" train --model lstm --hidden 64 --epochs 1000 --data "$fixtures/tiny.txt" --split all --out "$tmp/k.h5" --quiet &
victim=$!
sleep 1
kill -9 "$victim" 2>/dev/null
wait "$victim" 2>/dev/null
head -c 2000 /dev/zero >"$tmp/k.h5.tmp.$victim"  # as if it had died inside the write
expect_ok "train --out after a kill -9" \
  "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/k.h5" --quiet
no_temp_files "$tmp" "train after a kill -9"

finish
