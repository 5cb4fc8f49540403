"""Chord symbols as MIDI marker (FF 06) or text (FF 01) events: how MIDI files carry a
lead sheet's chords.

Writing puts one marker per chord change, its text the symbol (``Am7``, ``C/E``,
``N.C.``). Reading takes a file's markers as chords when they read as chord symbols,
except markers that look like rehearsal marks: single letters whose first appearances
run in alphabetical order (``A B C``, ``A A B A``) are left as markers, as is any marker that is not a symbol
(``Chorus``). Files with no chord markers are searched for text events that hold
symbols (lead-sheet symbols only: a text such as ``seed: 3`` is metadata).
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import TunesmithError
from .symbols import Chord, chord_table, parse_chord, spelled_chords


def _chord_or_none(text: str) -> Chord | None:
    try:
        return parse_chord(text)
    except TunesmithError:
        return None


def _rehearsal_marks(texts: list[str]) -> bool:
    """True for section letters: one letter each, whose first appearances run A, B, C...
    (``A A B A``, the sections of an AABA form, as well as ``A B C``)."""
    letters = [t.strip().upper() for t in texts]
    if not all(len(t) == 1 for t in letters):
        return False
    firsts = list(dict.fromkeys(letters))
    return firsts == [chr(ord("A") + i) for i in range(len(firsts))]


def _chord_events(events: list, symbols_only: bool = False) -> list:
    """The (event, Chord) pairs of ``events`` (objects with ``tick`` and ``text``) that
    read as a progression of chord symbols; [] when they look like section names."""
    parsed = [(event, None if symbols_only and ":" in event.text else _chord_or_none(event.text))
              for event in events]
    chords = [(m, c) for m, c in parsed if c is not None]
    if not chords or _rehearsal_marks([m.text for m, _ in chords]):
        return []
    if len(chords) == 1 and len(chords[0][0].text.strip()) == 1 and len(parsed) > 1:
        return []  # one letter among other markers: a section name, not a chord
    return sorted(chords, key=lambda item: item[0].tick)


def _set_chords(score, chords: list) -> None:
    from ..score import CHORD_DTYPE

    score.chords = chord_table([m.tick for m, _ in chords], [c for _, c in chords],
                               CHORD_DTYPE)


def chords_from_markers(score) -> None:
    """Move the markers of ``score`` that are chord symbols into ``score.chords``;
    leaves a score that already has chords alone."""
    if not score.markers or len(score.chords):
        return
    chords = _chord_events(score.markers)
    if chords:
        _set_chords(score, chords)
        moved = {id(m) for m, _ in chords}
        score.markers = [m for m in score.markers if id(m) not in moved]


_CHORD_TEXT = re.compile(rb"\xff\x01[\x01-\x10][A-GN]")
"""A text event of 1-16 bytes starting like a chord symbol: only then are events walked."""


def chords_from_text_events(score, data: bytes, tracks, scan_text_events) -> None:
    """Fill ``score.chords`` from text events holding chord symbols, for a score that
    has none yet. ``tracks`` are the MTrk byte spans of ``data``; ``scan_text_events``
    walks one (``io.smf``'s, passed in so this module stays below ``io``)."""
    from ..score import Marker

    if len(score.chords) or not _CHORD_TEXT.search(data):
        return
    texts = [Marker(tick, raw.decode("latin-1").strip())
             for start, end in tracks for tick, kind, raw in scan_text_events(data, start, end)
             if kind == 0x01 and 0 < len(raw) <= 16]
    chords = _chord_events(texts, symbols_only=True)
    if chords:
        _set_chords(score, chords)


def chord_marker_texts(score) -> list[tuple[int, str]]:
    """(tick, symbol) of every chord change of ``score``, spelled in its key, for marker
    events."""
    return spelled_chords(score)
