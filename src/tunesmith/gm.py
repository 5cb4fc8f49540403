"""General MIDI facts: program names, families and playable pitch ranges.

Kept free of heavy imports (only numpy) because the tokenizer and training use it on
machines where pretty_midi is not installed.
"""
from __future__ import annotations

DRUMS = 128
"""Pseudo-program for percussion tracks (GM channel 10)."""

FAMILIES = ("Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble",
            "Brass", "Reed", "Pipe", "Synth Lead", "Synth Pad", "Synth Effects", "Ethnic",
            "Percussive", "Sound Effects")

# Lowest and highest playable MIDI pitch per family (generous instrument ranges).
_FAMILY_RANGES = ((21, 108), (48, 108), (24, 96), (40, 88), (23, 67), (28, 103), (28, 96),
                  (34, 84), (34, 93), (48, 103), (24, 108), (24, 108), (24, 108), (36, 96),
                  (24, 96), (0, 127))
# Families whose members differ by octaves: the bowed strings, violin to double bass.
_PROGRAM_RANGES = {40: (55, 103), 41: (48, 88), 42: (36, 84), 43: (28, 67)}


def playable_range(program: int) -> tuple[int, int]:
    """Inclusive MIDI pitch range an instrument of this GM program can play."""
    if program >= DRUMS:
        return (0, 127)
    return _PROGRAM_RANGES.get(program, _FAMILY_RANGES[program // 8])


def program_name(program: int) -> str:
    """``"Flute"`` for 73; ``"Drums"`` for the drum pseudo-program."""
    if program >= DRUMS:
        return "Drums"
    try:
        from pretty_midi import program_to_instrument_name
    except ImportError:  # training machines may lack pretty_midi
        return f"Program {program}"
    return program_to_instrument_name(program)


def program_from_name(name: str) -> int:
    """GM program for a name or number: ``"flute"``, ``"Acoustic Grand Piano"``, ``"73"``,
    ``"drums"``. Raises ``RequestError`` naming the problem otherwise."""
    from .errors import RequestError

    text = name.strip()
    if text.isdigit() and 0 <= int(text) <= 127:
        return int(text)
    if text.lower() in ("drums", "drum", "percussion", "drum kit"):
        return DRUMS
    from pretty_midi.constants import INSTRUMENT_MAP

    lowered = [n.lower() for n in INSTRUMENT_MAP]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    matches = [i for i, n in enumerate(lowered) if text.lower() in n]
    if len(matches) >= 1:
        return matches[0]
    raise RequestError(f"unknown instrument {name!r}: use a GM program number 0-127 or a "
                       "General MIDI name such as 'flute' or 'acoustic grand piano'")


# --- idioms: where each instrument is at home, and what it can strike at once ---------
# Comfortable register per family (MIDI, inclusive), narrower than what it can play:
# where players of it write, and where the shipped model, left alone, does not go.
_FAMILY_COMFORT = ((36, 96), (60, 96), (36, 96), (40, 76), (28, 48), (36, 88), (36, 84),
                   (40, 82), (44, 84), (60, 93), (48, 84), (36, 84), (36, 96), (48, 84),
                   (36, 84), (0, 127))
_PROGRAM_COMFORT = {
    40: (55, 93), 41: (48, 76), 42: (36, 69), 43: (28, 55), 46: (36, 91), 47: (40, 55),
    52: (48, 79), 53: (48, 79), 54: (48, 79),
    56: (54, 82), 57: (40, 65), 58: (28, 53), 59: (54, 82), 60: (41, 72),
    64: (56, 84), 65: (49, 80), 66: (44, 75), 67: (36, 68), 68: (58, 86), 69: (52, 79),
    70: (34, 65), 71: (50, 86), 72: (74, 103), 74: (60, 86),
}


def comfortable_range(program: int) -> tuple[int, int]:
    """Inclusive MIDI range an instrument plays in by default (within `playable_range`):
    a bass E1-C3, a cello C2-A4, a violin G3-A6, a flute C4-A6. ``--range`` overrides it."""
    if program >= DRUMS:
        return (0, 127)
    low, high = _PROGRAM_COMFORT.get(program, _FAMILY_COMFORT[program // 8])
    play_low, play_high = playable_range(program)
    return max(low, play_low), min(high, play_high)


BASS_PROGRAMS = frozenset(range(32, 40)) | {43}
"""Parts that play a chord's bass at each change: the GM basses and the contrabass."""

COMP_PROGRAMS = frozenset(range(0, 8)) | frozenset(range(24, 32))
"""Parts that accompany in chords: pianos and guitars."""


def voices_at_once(program: int) -> int:
    """Most notes one player sounds at once: 2 on a bowed string (violin to contrabass,
    double stops), 1 on a wind (brass, reeds, pipes) or a voice, else no limit (128)."""
    if 40 <= program <= 43:
        return 2
    if 56 <= program <= 79 or 52 <= program <= 54:
        return 1
    return 128


KIT_PIECES = frozenset({35, 36, 37, 38, 40, 39, 42, 44, 46, 41, 43, 45, 47, 48, 50,
                        49, 51, 52, 53, 55, 57, 59})
"""General MIDI drum keys of a drum kit: kicks 35/36, side stick 37, snares 38/40, clap
39, hi-hats 42/44/46, toms 41/43/45/47/48/50, cymbals 49/51/52/53/55/57/59."""
