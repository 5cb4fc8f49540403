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
