#!/usr/bin/env bash
# Reproduce the shipped default model, end to end:
#   music21 corpus -> prepared shards -> training -> float16 model folder
#   -> originality index of its training melodies.
# Usage: scripts/train_default.sh [RUN_DIR]
# Environment: PYTHON (default .venv/bin/python), DATA (default data/default),
#   TRAIN_SECONDS (stop training cleanly after this long and export the last checkpoint),
#   MODEL_OUT (default src/tunesmith/models/default), SKIP_INDEX (set: no originality index).
# Training needs a CUDA GPU as configured (configs/default.toml); on a CPU-only machine
# set device = "cpu" and fewer steps there (configs/cpu.toml shows a CPU recipe).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DATA=${DATA:-data/default}
RUN=${1:-runs/default}
OUT=${MODEL_OUT:-src/tunesmith/models/default}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

[ -f "$DATA/manifest.json" ] || "$PY" datasets/music21_default.py --out "$DATA"
resume=(); [ -d "$RUN" ] && resume=(--resume)
train=("$PY" -m tunesmith train --data "$DATA" --config configs/default.toml --out "$RUN" "${resume[@]}")
if [ -n "${TRAIN_SECONDS:-}" ]; then
  timeout -s INT "$TRAIN_SECONDS" "${train[@]}" || [ $? -eq 124 ]  # SIGINT: checkpoint, stop
else
  "${train[@]}"
fi
"$PY" -m tunesmith export "$RUN" --out "$OUT" --dtype float16 --overwrite
if [ -z "${SKIP_INDEX:-}" ]; then  # the index of training melodies that generate checks drafts against
  "$PY" -m tunesmith originality-index --data "$DATA" --out "$OUT/originality.npz" --overwrite --quiet
fi
