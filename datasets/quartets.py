"""Prepare OpenScore String Quartets (122 movements, four parts, CC0) for training.

    .venv/bin/python datasets/quartets.py --out data/quartets [--workers 2] [--chords] [--limit N]

Each ``.mxl`` is read by tunesmith's MusicXML reader: four tracks (violin I and II,
viola, cello, with the GM programs the files give: 40, 40, 41, 42), ties merged,
repeats played out. A movement is long (median about 9,000 notes, 30,000 tokens), so
training windows start at bars inside it. ``--limit`` and ``--chords`` as in
``lieder.py``.
"""
from __future__ import annotations

import sys

from lieder import main as prepare_scores

if __name__ == "__main__":
    sys.exit(prepare_scores(name="quartets", doc=__doc__))
