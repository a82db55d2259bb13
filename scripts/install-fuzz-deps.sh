#!/usr/bin/env bash
# scripts/install-fuzz-deps.sh: the extra Debian 12 packages `make fuzz` needs; the list lives in
# install-deps.sh with the others.
exec bash "$(dirname "$0")/install-deps.sh" fuzz
