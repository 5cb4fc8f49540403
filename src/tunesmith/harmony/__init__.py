"""Harmony: chord symbols (parse, print, tone sets) and chord recognition.

``symbols`` owns every chord spelling; ``recognise`` names the chords of a Score;
``music21_chords`` and ``markers`` carry symbols through files; ``pop909`` reads POP909's
labels; ``evaluation`` scores recognised chords (MIREX majmin).
"""
from .recognise import recognise_score, recognised_table
from .symbols import (NO_CHORD, QUALITIES, QUALITY_INTERVALS, Chord, harte_tones,
                      parse_chord, parse_harte, parse_progression)

__all__ = ["Chord", "NO_CHORD", "QUALITIES", "QUALITY_INTERVALS", "harte_tones",
           "parse_chord", "parse_harte", "parse_progression", "recognise_score",
           "recognised_table"]
