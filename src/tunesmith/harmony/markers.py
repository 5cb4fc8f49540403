"""Chord symbols as MIDI marker events: how MIDI files carry a lead sheet's chords.

Writing puts one marker per chord change, its text the symbol (``Am7``, ``C/E``,
``N.C.``). Reading takes a file's markers as chords when they read as chord symbols,
except markers that look like rehearsal marks: single letters in alphabetical order
(``A``, ``B``, ``C``) are left as markers, as is any marker that is not a symbol
(``Chorus``).
"""
from __future__ import annotations

import numpy as np

from ..errors import TunesmithError
from .symbols import Chord, chord_table, parse_chord, table_chords


def _chord_or_none(text: str) -> Chord | None:
    try:
        return parse_chord(text)
    except TunesmithError:
        return None


def _rehearsal_marks(texts: list[str]) -> bool:
    """True for ``A B C``-style section letters (one letter each, consecutive)."""
    letters = [t.strip() for t in texts]
    if not all(len(t) == 1 for t in letters):
        return False
    codes = [ord(t.upper()) for t in letters]
    return codes[0] == ord("A") and all(b - a in (0, 1) for a, b in zip(codes, codes[1:]))


def chords_from_markers(score) -> None:
    """Move the markers of ``score`` that are chord symbols into ``score.chords``;
    leaves a score that already has chords alone."""
    from ..score import CHORD_DTYPE

    if not score.markers or len(score.chords):
        return
    parsed = [(marker, _chord_or_none(marker.text)) for marker in score.markers]
    chords = [(m, c) for m, c in parsed if c is not None]
    if not chords or _rehearsal_marks([m.text for m, _ in chords]):
        return
    if len(chords) == 1 and len(chords[0][0].text.strip()) == 1 and len(parsed) > 1:
        return  # one letter among other markers: a section name, not a chord
    chords.sort(key=lambda item: item[0].tick)
    score.chords = chord_table([m.tick for m, _ in chords], [c for _, c in chords],
                               CHORD_DTYPE)
    moved = {id(m) for m, _ in chords}
    score.markers = [m for m in score.markers if id(m) not in moved]


def chord_marker_texts(score) -> list[tuple[int, str]]:
    """(tick, symbol) of every chord change of ``score``, for marker events."""
    if len(score.chords) == 0:
        return []
    return [(tick, chord.symbol()) for tick, chord in
            table_chords(np.sort(score.chords, order="tick"))]
