#!/usr/bin/env bash
# Create .venv with tunesmith installed for editing. Usage: scripts/setup.sh [EXTRAS]
# e.g. `scripts/setup.sh test`. torch is pinned to the CPU wheel first, so that pip
# never resolves a multi-GB CUDA build; GPU users see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".${1:+[$1]}"
