#!/bin/bash
# Whole `overdue eod` processes of one day, side by side: each round runs the day without
# --models (the first source folder), then each variant with --models, the variants' order
# rotated from round to round; prints wall / CPU seconds (user + system) per process. A variant
# is LABEL:SRC, SRC a checkout's src/ folder (e.g. a `git worktree` of another commit).
#
#   WORK=/work/b1m DAY=2024-12-03 bench/eod_variants.sh 8 new:/tmp/bwt/src old:/tmp/bwt0/src
#
# WORK is a bench/score_eod.py folder whose day before DAY has its scores and state.
set -euo pipefail
rounds=$1; shift
work=${WORK:-/work/b1m}; day=${DAY:-2024-12-03}
python=${PYTHON:-$(dirname "$0")/../.venv/bin/python}
variants=("$@")
plain_src=${variants[0]#*:}
for i in $(seq 1 "$rounds"); do
  line="round $i:"
  r=$(( (i - 1) % ${#variants[@]} ))
  order=("${variants[@]:$r}" "${variants[@]:0:$r}")
  for spec in "plain:$plain_src" "${order[@]}"; do
    label=${spec%%:*}; src=${spec#*:}
    rm -rf "$work/snapshots/as_of=$day"
    extra=(--models "$work/models"); [ "$label" = plain ] && extra=()
    /usr/bin/time -o /tmp/eod_variants.time -f "%e %U %S" env PYTHONPATH="$src" nice -n 5 \
      "$python" -m overdue eod "$work/book" --as-of "$day" --out "$work/snapshots" --json \
      "${extra[@]}" > /dev/null 2>&1
    line="$line $label $(awk '{printf "%.2f/%.2f", $1, $2 + $3}' /tmp/eod_variants.time)"
  done
  echo "$line"
done
