"""The chords a draft is written over: a request's progression checked, laid on bars.

Host-side, plain numpy: `resolve_harmony` checks the request's ``chords`` /
``chords_from`` / ``end_on_tonic`` fields (a bad symbol is a one-line `RequestError`
naming it); `region_chords` lays the chords on the bars a draft writes, in grid units
(12 per quarter), from the request, a file or the prompt (recognised); `draft_chords`
gives the result's chord table (``score.CHORD_DTYPE``, ticks) so MusicXML, MIDI and the
piano roll show what the draft was written over. The masks are in `harmony`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ...errors import RequestError
from ...harmony import NO_CHORD, Chord, parse_progression
from ...harmony.symbols import chord_table, table_chords
from ...score import CHORD_DTYPE, Score

GRID = 12
"""Grid units per quarter note (the tokenizer's positions)."""

BAR_CHORDS = list[tuple[Fraction, Chord]]
"""One bar's chords: (where it starts, as a fraction of the bar, chord), by start."""

MINOR_FORMS = {"harmonic minor": (0, 2, 3, 5, 7, 8, 11), "melodic minor": (0, 2, 3, 5, 7, 9, 11)}
"""Minor scales beyond the natural one; the key token and signature stay minor."""

RAISED_IN_MINOR = (9, 11)
"""The raised 6th and 7th (semitones above the tonic), allowed in any minor key."""


@dataclass
class Harmony:
    """A request's chords, resolved. ``bars``: the progression, one list per bar (repeats
    over longer drafts); empty with ``auto`` (the model chooses and the recogniser names
    them) or when the chords come from the prompt. ``tonic``: the tonic triad when the
    last bar must end on it, else None."""

    bars: list[BAR_CHORDS] = field(default_factory=list)
    auto: bool = False
    from_prompt: bool = False
    tonic: Chord | None = None
    drum_kit_all: bool = False
    start_bar: int = 0


def split_minor_form(key_text: str | None) -> tuple[str | None, tuple[int, ...] | None]:
    """``"E harmonic minor"`` -> ``("E minor", (0, 2, 3, 5, 7, 8, 11))``; other keys as given."""
    if not key_text:
        return key_text, None
    lowered = " ".join(key_text.lower().split())
    for name, steps in MINOR_FORMS.items():
        if lowered.endswith(" " + name):
            return key_text.strip()[: -len(name)].strip() + " minor", steps
    return key_text, None


def minor_scale(key, scale, form) -> tuple[int, ...] | None:
    """The scale of a minor key with the raised 6th and 7th allowed (a harmonic or melodic
    minor asked by name: exactly that scale); other keys unchanged."""
    if not key or not scale:
        return scale
    from ...score import MODES

    if form is not None:
        return tuple(sorted((key[0] + step) % 12 for step in form))
    if MODES[key[1]] != "minor":
        return scale
    return tuple(sorted(set(scale) | {(key[0] + step) % 12 for step in RAISED_IN_MINOR}))


def tonic_triad(key) -> Chord:
    """The triad on a key's tonic from its mode's 3rd and 5th (C major: C; A dorian: Am)."""
    from ...score import MODE_INTERVALS, MODES

    steps = MODE_INTERVALS[MODES[key[1]]]
    quality = {(4, 7): "maj", (3, 7): "min", (3, 6): "dim", (4, 8): "aug"}[(steps[2], steps[4])]
    return Chord(key[0], quality)


def resolve_harmony(request, key, prompt_given: bool) -> Harmony | None:
    """Check ``chords``, ``chords_from``, ``end_on_tonic`` and ``drum_kit``; None when the
    request asks for none of them (an infilled part still gets the prompt's chords)."""
    if request.chords and request.chords_from:
        raise RequestError("give --chords or --chords-from, not both")
    if request.drum_kit not in ("gm", "all"):
        raise RequestError(f"--drum-kit {request.drum_kit!r}: use 'gm' (kit pieces only) or 'all'")
    start = request.chords_start_bar
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise RequestError(f"chords start bar must be a whole number from 0, not {start!r}")
    harmony = Harmony(drum_kit_all=request.drum_kit == "all", start_bar=start)
    text = (request.chords or "").strip()
    if text.lower() == "auto":
        harmony.auto = True
    elif text:
        harmony.bars = [[(Fraction(i, len(bar)), chord) for i, chord in enumerate(bar)]
                        for bar in parse_progression(text)]
    elif request.chords_from:
        harmony.bars = chords_from_file(request.chords_from)
    elif request.infill_program and prompt_given:
        harmony.from_prompt = True  # an accompaniment is written under the melody's chords
    end = ends_on_tonic(request, key, prompt_given, bool(harmony.bars))
    if end and not key:
        raise RequestError("--end-on-tonic needs a --key (the tonic of which key?)")
    if end and (request.infill_bars or request.infill_program):
        raise RequestError("--end-on-tonic ends a piece's new last bar, not infilled bars or parts")
    harmony.tonic = tonic_triad(key) if end else None
    return harmony


def ends_on_tonic(request, key, prompt_given: bool, progression: bool) -> bool:
    """``end_on_tonic`` as asked; by default, yes for a new draft in a key with no progression."""
    if request.end_on_tonic is not None:
        return bool(request.end_on_tonic)
    return bool(key) and not prompt_given and not progression and not request.chords_from


def window_fields(request, written: int, bars: int) -> dict:
    """Fields for the window of a long piece that writes ``bars`` bars after ``written``
    (``replace(request, **window_fields(...))``): the progression picked up at the
    piece's bar, and the tonic ending in the last window only."""
    from ...score import parse_key

    key = parse_key(split_minor_form(request.key)[0]) if request.key else None
    progression = bool((request.chords or "").strip()) and request.chords.strip().lower() != "auto"
    last = request.bars is None or written + bars >= request.bars
    end = ends_on_tonic(request, key, bool(request.prompt), progression or bool(request.chords_from)) and last
    return {"chords_start_bar": request.chords_start_bar + written, "end_on_tonic": end}


def chords_from_file(path: str) -> list[BAR_CHORDS]:
    """A file's chords per bar: its own symbols (lead sheet, MusicXML harmony, ABC), else
    the recogniser's. A file without notes or chords is a one-line error naming it."""
    from ...errors import TunesmithError
    from ...io import read

    try:
        score = read(path)
    except TunesmithError:
        raise
    except Exception as exc:  # a reader's own failure, still one line
        raise RequestError(f"--chords-from {path}: cannot read it ({exc})") from None
    bars = score_chords(score)
    if not any(chord != NO_CHORD for bar in bars for _, chord in bar):
        raise RequestError(f"--chords-from {path}: no chord symbols and no notes to recognise chords from")
    return bars


def score_chords(score: Score, first_bar: int = 0, last_bar: int | None = None) -> list[BAR_CHORDS]:
    """Chords per bar of a Score (bars ``first_bar``..``last_bar``, inclusive, from 0): its
    chord table, else recognised one chord a beat. A bar with no chord change holds the
    chord sounding at its downbeat."""
    changes = table_chords(score.chords) if len(score.chords) else recognise(score)
    starts = score.bar_starts()
    last = len(starts) - 1 if last_bar is None else last_bar
    ends = np.append(starts[1:], starts[-1] + _bar_ticks(score, int(starts[-1])))
    ticks = np.array([t for t, _ in changes] or [0])
    bars = []
    for b in range(first_bar, last + 1):
        lo, hi = (int(starts[b]), int(ends[b])) if b < len(starts) else (int(ends[-1]), int(ends[-1]) + 1)
        at = int(np.searchsorted(ticks, lo, side="right")) - 1
        bar = [(Fraction(0), changes[at][1] if at >= 0 and changes else NO_CHORD)]
        for tick, chord in changes[at + 1:]:
            if tick >= hi:
                break
            if chord != bar[-1][1]:
                bar.append((Fraction(tick - lo, hi - lo), chord))
        bars.append(bar)
    return bars


def _bar_ticks(score: Score, tick: int) -> int:
    meters = score.meter_map()
    at = max(int(np.searchsorted(meters["tick"], tick, side="right")) - 1, 0)
    return int(meters["numerator"][at]) * score.ticks_per_quarter * 4 // int(meters["denominator"][at])


RECOGNISE_PER = "half"
"""Grid of recognised chords: at most one chord a half bar (a beat's grid makes chords of
a melody's passing notes; a bar's misses its changes)."""


def recognise(score: Score) -> list[tuple[int, Chord]]:
    """(tick, chord) at each change of a Score's recognised chords (`harmony.recognise`)."""
    from ...harmony.recognise import recognise_score

    return [(start, chord) for start, _, chord in recognise_score(score, RECOGNISE_PER)]


def bar_units_of(score: Score, first_bar: int, count: int) -> list[int]:
    """Length in grid units of bars ``first_bar``.. of a Score (bars past its end: the
    last meter's)."""
    starts = score.bar_starts()
    units = []
    for b in range(first_bar, first_bar + count):
        tick = int(starts[b]) if b < len(starts) else int(starts[-1])
        units.append(_bar_ticks(score, tick) * GRID // score.ticks_per_quarter)
    return units


def region_chords(harmony: Harmony, mode: str, target_bars: int, meter, prompt: Score | None,
                  span) -> tuple[list[BAR_CHORDS], list[int], int]:
    """The chords of each bar a draft writes, the bars' lengths (grid units), and the
    index of the first of them in the whole piece. New drafts: the progression from bar
    1, repeated; a continuation: from the first new bar; bar infilling: the hole's bars of
    the piece's progression (or of the prompt's own chords); track infilling: every bar
    of the prompt, under the progression or the prompt's (recognised) chords."""
    first = 0
    if mode == "continue" and prompt is not None:
        first = len(prompt.bar_starts())
    elif mode == "infill_bars" and span is not None:
        first = span[0]
    if prompt is not None and mode != "new":
        units = bar_units_of(prompt, first, target_bars)
    else:
        num, den = meter or (4, 4)
        units = [num * 4 * GRID // den] * target_bars
    if harmony.bars:
        origin = first if mode == "infill_bars" else harmony.start_bar
        bars = [harmony.bars[(origin + b) % len(harmony.bars)] for b in range(target_bars)]
    elif prompt is not None and (harmony.from_prompt or mode == "infill_bars") and not harmony.auto:
        bars = score_chords(prompt, first, first + target_bars - 1)
    else:
        bars = [[(Fraction(0), NO_CHORD)] for _ in range(target_bars)]
    return bars, units, first


def draft_chords(resolved, mode: str, span, score: Score, prompt: Score | None = None,
                 target_bars: int | None = None) -> np.ndarray:
    """The result's chord table (``CHORD_DTYPE``, ticks of ``score``): the chords the
    draft was written over, or with ``--chords auto`` the recogniser's reading of it.
    Empty when the request has no chords."""
    harmony = getattr(resolved, "harmony", None)
    if harmony is None or (not harmony.bars and not harmony.from_prompt and not harmony.auto):
        return np.zeros(0, dtype=CHORD_DTYPE)
    if harmony.auto:
        changes = recognise(score)
        return chord_table(*zip(*changes), CHORD_DTYPE) if changes else np.zeros(0, CHORD_DTYPE)
    starts = score.bar_starts()
    bars = target_bars or len(starts)
    chords, units, first = region_chords(harmony, mode, bars, resolved.meter, prompt, span)
    ticks, symbols = [], []
    tpq = score.ticks_per_quarter
    for b, bar in enumerate(chords):
        if first + b >= len(starts):
            break
        for frac, chord in bar:
            tick = int(starts[first + b]) + int(np.ceil(frac * units[b])) * tpq // GRID
            if not symbols or symbols[-1] != chord:
                ticks.append(tick)
                symbols.append(chord)
    table = chord_table(ticks, symbols, CHORD_DTYPE) if symbols else np.zeros(0, CHORD_DTYPE)
    if mode != "new" and prompt is not None and len(prompt.chords) and mode != "infill_track":
        before = prompt.chords[prompt.chords["tick"] < (ticks[0] if ticks else 0)]
        table = np.concatenate([before, table])
    return table
