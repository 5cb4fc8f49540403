"""Tempo as musicians write it, turned into what a request and a Score hold.

A `GenerationRequest` and a `Score` keep tempo in quarter notes per minute (qpm), as
MIDI does. Musicians count the beat they feel: a dotted quarter in 6/8, a half note in
cut time. `parse_tempo` accepts ``"72"``, ``"72 dotted-quarter"``, ``"72 half"``,
``"q=72"``, ``"q.=72"``, ``"dotted quarter = 72"`` and returns qpm.

A bare number counts the meter's beat: a quarter note, except in compound meters (6/8,
9/8, 12/8, ...: a numerator divisible by 3 above 3, over 8 or 16) where it counts the
dotted beat (a dotted quarter in x/8), because that is what "6/8 at 72" means to a
musician: 72 dotted quarters = 108 quarters per minute, two bars in 3.3 s.
"""
from __future__ import annotations

import math
import re

from ..errors import RequestError

BEAT_UNITS = {
    "whole": 4.0, "w": 4.0, "half": 2.0, "h": 2.0, "minim": 2.0,
    "quarter": 1.0, "q": 1.0, "crotchet": 1.0, "eighth": 0.5, "e": 0.5, "quaver": 0.5,
    "sixteenth": 0.25, "s": 0.25, "semiquaver": 0.25,
}
"""Length of each beat unit in quarter notes; ``dotted``, or a trailing ``.``, adds half."""

MIN_QPM, MAX_QPM = 20.0, 400.0
"""The tempos a request may ask for, in quarter notes per minute."""

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_UNIT = r"(dotted[\s-]*)?([a-z]+)(\.?)"
_FORMS = (re.compile(rf"^{_NUMBER}\s*(?:bpm)?$"),                      # 72
          re.compile(rf"^{_NUMBER}\s*(?:bpm)?\s+{_UNIT}$"),          # 72 dotted-quarter
          re.compile(rf"^{_UNIT}\s*=\s*{_NUMBER}\s*(?:bpm)?$"))         # q.=72, dotted quarter = 72


def compound_beat(meter: tuple[int, int] | None) -> float | None:
    """Quarter notes in the dotted beat of a compound meter (1.5 in 6/8, 0.75 in 6/16),
    else None."""
    if meter is None:
        return None
    numerator, denominator = meter
    if numerator > 3 and numerator % 3 == 0 and denominator in (8, 16):
        return 3 * 4.0 / denominator
    return None


def parse_tempo(text: str | float, meter: tuple[int, int] | None = None) -> float:
    """Quarter notes per minute of a tempo as written (see the module docstring); a
    bare number counts the meter's beat (``meter`` = (numerator, denominator), or None
    for a quarter). Raises ``RequestError`` for anything else or outside 20-400 qpm."""
    if isinstance(text, (int, float)):
        beats, unit = float(text), compound_beat(meter) or 1.0
    else:
        beats, unit = _parse_text(str(text), meter)
    qpm = beats * unit
    if not math.isfinite(qpm) or not MIN_QPM <= qpm <= MAX_QPM:
        raise RequestError(f"tempo {text!r} is {qpm:g} quarter notes per minute, outside "
                           f"{MIN_QPM:g}-{MAX_QPM:g}")
    return qpm


def _parse_text(text: str, meter) -> tuple[float, float]:
    """(beats per minute, quarters per beat) of a written tempo."""
    clean = " ".join(text.strip().lower().replace("♩", "q").split())
    for form in _FORMS:
        match = form.match(clean)
        if not match:
            continue
        groups = match.groups()
        if len(groups) == 1:
            return float(groups[0]), compound_beat(meter) or 1.0
        if form is _FORMS[1]:
            number, dotted, name, dot = groups
        else:
            dotted, name, dot, number = groups
        name = "half" if name == "halves" else name
        name = name[:-1] if name.endswith("s") and name[:-1] in BEAT_UNITS else name
        if name not in BEAT_UNITS:
            break
        return float(number), BEAT_UNITS[name] * (1.5 if dotted or dot else 1.0)
    raise RequestError(f"bad tempo {text!r}: use beats per minute with an optional unit, "
                       "e.g. 72, '72 dotted-quarter', '60 half', 'q=96'")


def describe_tempo(qpm: float, meter: tuple[int, int] | None = None) -> str:
    """``"72 dotted-quarter bpm (108 qpm)"`` in a compound meter, else ``"120 qpm"``: the
    tempo in the unit a musician counts, for printing."""
    beat = compound_beat(meter)
    if beat is None:
        return f"{qpm:g} qpm"
    return f"{qpm / beat:.4g} dotted-{_unit_name(beat / 1.5)} bpm ({qpm:g} qpm)"


def _unit_name(quarters: float) -> str:
    return {4.0: "whole", 2.0: "half", 1.0: "quarter", 0.5: "eighth"}.get(quarters, "beat")
