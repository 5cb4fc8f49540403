#!/usr/bin/env bash
# Train the v2 default model end to end on one H100/H200:
#   default corpus + POP909 + Groove + Lieder + quartets (chord controls) -> shards
#   -> training (configs/v2.toml) -> float16 model folder -> originality index.
# Usage: scripts/train_v2.sh [RUN_DIR]
# Environment: PYTHON (default .venv/bin/python), DATA (default data/v2), WORKERS (default:
#   all cores), COMMERCIAL=1 (leave out the Essen folk songs: every source then allows
#   commercial use), MODEL_OUT (default models/v2: not the shipped folder until it is
#   checked), TRAIN_SECONDS (stop cleanly after this long), SKIP_INDEX.
# Expected on one H200 with 16 cores: preparing about 10 minutes (music21's ABC parsing of
# the folk books dominates; the MusicXML sets take 2-3 minutes), training 8,000 steps of
# 64 x 1,024 tokens (524M tokens) of a 5M-parameter model about 10-15 minutes compiled in
# bf16 (this size runs well below the 910k tokens/s of gpu-50m: estimate 0.6-1M tokens/s),
# export and index a minute.
# Then: scripts/bench_sample.py --model $MODEL_OUT (16 bars under 1.5 s on the CPU?),
# tunesmith evaluate --model $MODEL_OUT --data $DATA (NLL vs 4-gram), and v1's test split:
# tunesmith evaluate --model $MODEL_OUT --data data/default.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DATA=${DATA:-data/v2}
RUN=${1:-runs/v2}
OUT=${MODEL_OUT:-models/v2}
WORKERS=${WORKERS:-$(nproc)}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

commercial=(); [ -n "${COMMERCIAL:-}" ] && commercial=(--commercial)
[ -f "$DATA/manifest.json" ] || "$PY" datasets/v2.py --out "$DATA" --workers "$WORKERS" "${commercial[@]}"
resume=(); [ -d "$RUN" ] && resume=(--resume)
train=("$PY" -m tunesmith train --data "$DATA" --config configs/v2.toml --out "$RUN" "${resume[@]}")
if [ -n "${TRAIN_SECONDS:-}" ]; then
  timeout -s INT "$TRAIN_SECONDS" "${train[@]}" || [ $? -eq 124 ]  # SIGINT: checkpoint, stop
else
  "${train[@]}"
fi
"$PY" -m tunesmith export "$RUN" --out "$OUT" --dtype float16 --overwrite
if [ -z "${SKIP_INDEX:-}" ]; then
  "$PY" -m tunesmith originality-index --data "$DATA" --out "$OUT/originality.npz" --overwrite --quiet
fi
