#!/usr/bin/env bash
# The installed size of bnlint with each of its extras, and of TensorFlow alone, as the README
# gives them: each installed from the package index into a fresh virtualenv, measured with
# `du -sm` on that virtualenv's site-packages (pip included, as a user's environment has it).
#
#   scripts/install_sizes.sh [WORK_DIR]
#
# WORK_DIR (default: a temporary folder, removed afterwards) holds the virtualenvs, about 12 GB.
# Prints one Markdown table row per environment: what was installed, the TensorFlow version it
# got, its size in MB. Needs python3 with venv and access to the package index.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -ge 1 ]; then
  work="$1"
  mkdir -p "$work"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi

measure() {
  local name="$1"
  shift
  local venv="$work/$(echo "$name" | tr -c 'A-Za-z0-9\n' '_')"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  local site tensorflow size
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  tensorflow="$("$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | awk 'tolower($1) ~ /^tensorflow([-_]cpu)?$/ {printf "%s%s %s", sep, $1, $2; sep=", "}')"
  size="$(du -sm "$site" | cut -f1)"
  printf '| %s | %s | %s MB |\n' "$name" "${tensorflow:-none}" "$size"
  rm -rf "$venv"
}

echo "| environment | TensorFlow | site-packages |"
echo "| --- | --- | --- |"
measure "tensorflow" tensorflow
measure "tensorflow-cpu" tensorflow-cpu
measure "tensorflow + tf-keras" tensorflow tf-keras
measure "bnlint" "$root"
measure "bnlint[tf]" "$root[tf]"
measure "bnlint[test]" "$root[test]"
