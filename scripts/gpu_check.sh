#!/bin/sh
# The GPU checks of the sampler, in one call on a lent GPU machine (bare: torch, numpy,
# safetensors, tqdm, pytest; no symusic/music21). From the repository root, first here:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp -d .whl array-api-compat==1.16.0
# then run this script on the device with `.whl` carried. It prints the GPU tests'
# result and bench_sample's JSON line (host masks, device graphs, compiled graphs).
set -e
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
export PYTHONPATH="$PWD/src:/tmp/site"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
# the graphs first (quick), then the figures, then the compiled graphs' test (compiling
# takes a minute or two per request, so it comes last)
SECONDS=0
python3 -m pytest -q -p no:cacheprovider tests/test_device_decode.py -k "cuda and not compiled" 2>&1 | tail -15
echo "graph tests: ${SECONDS}s"
python3 scripts/bench_sample.py --gpu-only "$@"
echo "bench: ${SECONDS}s"
python3 -m pytest -q -p no:cacheprovider tests/test_device_decode.py -k "cuda and compiled" 2>&1 | tail -15
echo "all: ${SECONDS}s"
