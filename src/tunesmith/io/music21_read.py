"""Scores (MusicXML .musicxml/.xml/.mxl, ABC .abc, Humdrum **kern .krn) to `Score`,
through music21. MusicXML goes to `musicxml_read` first, which reads the XML itself
(music21's stream building, ``stripTies`` and ``expandRepeats`` took 40-56 s on a
string-quartet movement); music21 reads the MusicXML it leaves out (timewise scores,
files ElementTree refuses).

music21 times are offsets in quarter notes (floats or exact Fractions); we convert them
to integer ticks at ``ticks_per_quarter`` = 480 (which holds 64ths, triplets and
quintuplets exactly), raised to the least common multiple of the piece's denominators
(septuplets -> 3360) when that stays within MIDI's 32767, so that every onset lands on a
tick exactly. What music21 gets wrong, or lets through, is handled here:

- repeats are expanded when music21 can (``expandRepeats``), else read as written;
- ties are merged into one note (``stripTies``); grace notes are dropped (they take no
  time); a chord becomes one note per pitch; unpitched percussion becomes a drum track
  at the pitch of its staff position;
- meter, key and tempo marks are located by walking the stream tree with each
  container's own offsets, so one object shared by several measures is placed in each;
- a music21 ``Key`` gives tonic and mode (ABC ``K:Ddor`` -> D dorian); a bare
  ``KeySignature`` gives the major key of its sharps;
- an ABC tunebook yields every tune (music21 returns an ``Opus``).
"""
from __future__ import annotations

import math
import os
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ReadError
from ..harmony.music21_chords import chords_from_walks
from ..score import CHORD_DTYPE
from ..score import (KEY_DTYPE, MODES, NOTE_DTYPE, TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Lyric,
                     Score, Track)

DEFAULT_TICKS_PER_QUARTER = 480
MAX_TICKS_PER_QUARTER = 32767
DEFAULT_VELOCITY = 80
"""music21 notes without an explicit velocity (most scores) are written at mezzo forte."""

MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")
"""Read by `musicxml_read` (music21 only for what it leaves out); ABC and kern by music21."""

_MODE_ALIASES = {"ionian": "major", "aeolian": "minor"}


def read_music21_pieces(path: str | os.PathLike) -> Iterator[Score]:
    """Every piece of a MusicXML, ABC or **kern file; every tune of an ABC tunebook.

    Each score's ``metadata`` holds ``source`` (the path), ``title`` where the file
    gives one, and for tunebooks ``index`` (0-based) and ``number`` (the ABC ``X:``).
    """
    from music21 import stream

    path = Path(path)
    if path.suffix.lower() in MUSICXML_SUFFIXES:  # straight from the XML: 20-100x faster
        from .musicxml_read import Unsupported, read_musicxml

        try:
            yield read_musicxml(path)
            return
        except (Unsupported, ReadError):  # timewise or malformed XML: music21 decides
            pass
    parsed = _parse(path)
    if isinstance(parsed, stream.Opus):
        pieces = list(parsed.scores) or [parsed]
    else:
        pieces = [parsed]
    for index, piece in enumerate(pieces):
        try:
            score = score_from_music21(piece)
        except (AttributeError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise ReadError(f"piece {index}: music21 gave a stream tunesmith cannot read "
                            f"({type(exc).__name__}: {exc})", path) from None
        score.metadata["source"] = os.fspath(path)
        if len(pieces) > 1:
            score.metadata["index"] = str(index)
            number = getattr(piece.metadata, "number", None) if piece.metadata else None
            if number:
                score.metadata["number"] = str(number)
        yield score


def _parse(path: Path):
    """music21's parse of ``path`` from source (never from music21's pickle cache)."""
    from music21 import converter

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return converter.parse(path, forceSource=True, storePickle=False)
    except Exception as exc:  # music21 raises anything on bad input; say what it said
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise ReadError(f"music21 could not parse it: {reason}", path) from None


def score_from_music21(source) -> Score:
    """A `Score` from a ``music21.stream.Score`` (or a Part, or any stream of notes).

    Parts become tracks (name, GM program from the part's instrument, else 0).
    """
    from music21 import stream

    source = _expand_repeats(source)
    parts = list(source.parts) if isinstance(source, stream.Score) else []
    if not parts:
        parts = [source]
    pickup = _pickup_padding(parts[0])
    walks = [list(_walk(part.stripTies(), pickup)) for part in parts]
    tpq = _ticks_per_quarter(walks)
    score = Score(ticks_per_quarter=tpq)
    title = source.metadata.title if getattr(source, "metadata", None) else None
    if title:
        score.metadata["title"] = str(title)
    tempos, meters, keys = {}, {}, {}
    for part, walk in zip(parts, walks):
        score.tracks.append(_track(part, walk, tpq))
        _collect_marks(walk, tpq, tempos, meters, keys, first_part=part is parts[0])
    if isinstance(source, stream.Score):  # tempo marks may sit above the parts
        top = [(offset, el) for offset, el in _walk(source, pickup, into_parts=False)]
        _collect_marks(top, tpq, tempos, meters, keys, first_part=True)
    if pickup:  # the marks of the pickup bar hold from the (padded) start of the piece
        start = _tick(pickup, tpq)
        for marks in (tempos, meters, keys):
            for tick in [t for t in marks if 0 < t <= start]:
                marks.setdefault(0, marks.pop(tick))
    score.tempos = np.array(_changes(tempos), dtype=TEMPO_DTYPE)
    score.time_signatures = np.array(_changes(meters), dtype=TIME_SIGNATURE_DTYPE)
    score.key_signatures = np.array(_changes(keys), dtype=KEY_DTYPE)
    score.chords = chords_from_walks(walks, tpq, CHORD_DTYPE)  # <harmony>, ABC "Am"
    return score


def _pickup_padding(part) -> Fraction:
    """Quarters missing from a pickup (anacrusis) bar. Everything is shifted by this
    much, so the pickup ends a full first bar (rests before it) and every barline of
    the score falls on a bar start of ours."""
    from music21 import stream

    measures = part.getElementsByClass(stream.Measure)
    first = measures[0] if len(measures) else None
    padding = Fraction(first.paddingLeft).limit_denominator(10_000) if first is not None else Fraction(0)
    return padding if padding > 0 else Fraction(0)


def _changes(marks: dict) -> list[tuple]:
    """(tick, *value) rows by tick, leaving out marks that repeat the one before."""
    rows, previous = [], None
    for tick, value in sorted(marks.items()):
        value = value if isinstance(value, tuple) else (value,)
        if value != previous:
            rows.append((tick, *value))
        previous = value
    return rows


def _expand_repeats(source):
    """Repeats and endings played out, or ``source`` as written if music21 cannot."""
    from music21 import repeat

    if not any(True for _ in source.recurse().getElementsByClass(repeat.RepeatMark)):
        return source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _with_start_repeats(source).expandRepeats()
    except Exception:  # music21 raises ExpanderException, or worse, on odd repeats
        return source


def _with_start_repeats(source):
    """``source``, or a copy where every end-repeat without a start gets one.

    An end-repeat with no start-repeat goes back to just after the previous end-repeat
    (the convention of ABC tunebooks: ``|: A :|: B :|`` written as ``A :| B :|``);
    music21 would go back to the very beginning and play the first strain again.
    """
    import copy

    from music21 import bar, stream

    fixed = None
    parts = list(source.parts) if isinstance(source, stream.Score) else [source]
    for part_index, part in enumerate(parts):
        measures = list(part.getElementsByClass(stream.Measure))
        section_start, started = 0, False
        for i, measure in enumerate(measures):
            left, right = measure.leftBarline, measure.rightBarline
            if isinstance(left, bar.Repeat) and left.direction == "start":
                started = True
            if isinstance(right, bar.Repeat) and right.direction == "end":
                if not started and section_start > 0:
                    if fixed is None:
                        fixed = copy.deepcopy(source)
                    fixed_parts = list(fixed.parts) if isinstance(fixed, stream.Score) \
                        else [fixed]
                    target = list(fixed_parts[part_index].getElementsByClass(stream.Measure))
                    target[section_start].leftBarline = bar.Repeat(direction="start")
                section_start, started = i + 1, False
    return source if fixed is None else fixed


def _walk(container, base: Fraction, into_parts: bool = True):
    """(absolute offset in quarters, element) for every leaf under ``container``,
    using each container's own offset for each element, so shared objects are placed
    correctly in every measure that holds them."""
    from music21 import stream

    for element in container.elements:
        offset = base + Fraction(container.elementOffset(element))
        if isinstance(element, stream.Stream):
            if into_parts or not isinstance(element, (stream.Part, stream.PartStaff)):
                yield from _walk(element, offset, into_parts)
        else:
            yield offset, element


def _ticks_per_quarter(walks) -> int:
    """480, or the least multiple of it that puts every offset and duration on a tick."""
    tpq = DEFAULT_TICKS_PER_QUARTER
    for walk in walks:
        for offset, element in walk:
            for value in (offset, Fraction(element.duration.quarterLength)):
                denominator = Fraction(value).limit_denominator(10_000).denominator
                candidate = math.lcm(tpq, denominator)
                if candidate <= MAX_TICKS_PER_QUARTER:
                    tpq = candidate
    return tpq


def _tick(offset, tpq: int) -> int:
    return int(round(Fraction(offset) * tpq))


def _track(part, walk, tpq: int) -> Track:
    from music21 import chord, instrument, note

    inst = part.getInstrument(returnDefault=True)
    name = part.partName or (inst.instrumentName if inst else None) or ""
    program = inst.midiProgram if inst is not None and inst.midiProgram is not None else 0
    is_drum = isinstance(inst, instrument.UnpitchedPercussion) or (
        inst is not None and inst.midiChannel == 9)
    onsets, durations, pitches, velocities, lyrics = [], [], [], [], []
    for offset, element in walk:
        if not isinstance(element, note.NotRest) or element.duration.isGrace:
            continue
        onset, duration = _tick(offset, tpq), _tick(element.duration.quarterLength, tpq)
        if duration <= 0:
            continue
        velocity = element.volume.velocity if element.volume.velocity else DEFAULT_VELOCITY
        if isinstance(element, chord.Chord):
            midi = [p.midi for p in element.pitches]
        elif isinstance(element, note.Unpitched):
            midi = [element.displayPitch().midi]
            is_drum = True
        else:
            midi = [element.pitch.midi]
        for pitch in midi:
            if 0 <= pitch <= 127:
                onsets.append(onset)
                durations.append(duration)
                pitches.append(pitch)
                velocities.append(min(127, max(1, int(velocity))))
        if element.lyrics:
            text = element.lyrics[0].rawText
            if text and text.strip():
                lyrics.append(Lyric(onset, text))
    notes = np.zeros(len(onsets), dtype=NOTE_DTYPE)
    notes["onset"], notes["duration"] = onsets, durations
    notes["pitch"], notes["velocity"] = pitches, velocities
    order = np.argsort(notes["onset"], kind="stable")
    return Track(name=str(name).strip(), program=int(program) & 0x7F, is_drum=bool(is_drum),
                 notes=notes[order], lyrics=lyrics)


def _collect_marks(walk, tpq, tempos: dict, meters: dict, keys: dict, first_part: bool) -> None:
    """Tempo marks from any part; meters and keys from the first part (tick -> value)."""
    from music21 import key, meter, tempo

    for offset, element in walk:
        tick = _tick(offset, tpq)
        if isinstance(element, tempo.MetronomeMark):
            qpm = element.getQuarterBPM()
            if qpm and qpm > 0:
                tempos[tick] = float(qpm)
        elif not first_part:
            continue
        elif isinstance(element, meter.TimeSignature):
            if element.numerator and element.denominator:
                meters[tick] = (int(element.numerator), int(element.denominator))
        elif isinstance(element, key.KeySignature):
            keys[tick] = _key(element)


def _key(signature) -> tuple[int, int]:
    """(tonic pitch class, mode index) of a music21 Key, or of a bare KeySignature's major."""
    from music21 import key

    if isinstance(signature, key.Key) and signature.tonic is not None:
        mode = _MODE_ALIASES.get(str(signature.mode).lower(), str(signature.mode).lower())
        if mode in MODES:
            return signature.tonic.pitchClass, MODES.index(mode)
    sharps = max(-7, min(7, int(signature.sharps)))
    return (sharps * 7) % 12, MODES.index("major")
