"""MusicXML (.musicxml, .xml, .mxl) to `Score` straight from the XML, without music21.

Why: music21 builds an object per note, and its ``stripTies`` and ``expandRepeats`` sort
and deep-copy whole streams; a string-quartet movement took 40-56 s through it, where
this reader takes a fraction of a second (``scripts/bench_prepare.py`` measures both).
It reads what the tokenizer uses and gives the notes music21's path gave:

- times: MusicXML counts ``divisions`` per quarter, so every onset is an integer in
  units of the least common multiple of the file's divisions; ticks per quarter are
  480, raised to the least multiple that puts every onset and length on a tick (at most
  MIDI's 32767), as `music21_read` does;
- a measure lasts as far as its notes, rests and ``<forward>`` reach (an empty one: its
  meter's bar), as in music21; a short first measure is a pickup, padded to a full bar;
- ``<backup>``/``<forward>`` voices, ``<chord/>`` notes, ties merged per staff and pitch,
  grace notes dropped, cue notes silent, unpitched notes as a drum track at their
  staff position, each staff of a part its own track (as music21's PartStaffs);
- repeats (``<repeat>`` barlines with ``times``) and endings (``<ending number="1, 2">``)
  played out; an end-repeat without a start goes back to just after the previous
  end-repeat; D.C./D.S. jumps are read as written;
- keys and meters from the first part, tempos (``<sound tempo>``, else a quarter-based
  ``<metronome>``) from every part; lyrics (first verse) at their notes' onsets;
  ``<harmony>`` chord symbols into ``Score.chords``.

``Unsupported`` is raised for files it leaves to music21 (``score-timewise``).
"""
from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from ..errors import ReadError
from ..score import (CHORD_DTYPE, KEY_DTYPE, MODES, NOTE_DTYPE, TEMPO_DTYPE,
                     TIME_SIGNATURE_DTYPE, Lyric, Score, Track)

DEFAULT_TICKS_PER_QUARTER = 480
MAX_TICKS_PER_QUARTER = 32767
DEFAULT_VELOCITY = 80
"""Notes without a ``dynamics`` attribute (most scores) are written at mezzo forte."""
CUE_NOTES_SOUND = False
"""Cue notes (``<cue/>``: another part's line printed small as a guide) are not played;
music21 reads them as notes."""
MAX_XML_BYTES = 256 << 20
"""An .mxl whose score unpacks to more than this is refused (a zip bomb, not music: the
longest OpenScore quartet movement is about 5 MB of XML)."""
MAX_PLAYED_MEASURES = 20
"""Repeats may play a score at most this many times its written length (a guard against
repeat marks that would loop)."""

_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MODE_SHIFT = {"major": 0, "ionian": 0, "minor": 9, "aeolian": 9, "dorian": 2, "phrygian": 4,
               "lydian": 5, "mixolydian": 7, "locrian": 11}
_MODE_NAME = {"ionian": "major", "aeolian": "minor"}
_BEAT_UNIT = {"whole": 4.0, "half": 2.0, "quarter": 1.0, "eighth": 0.5, "16th": 0.25,
              "32nd": 0.125, "breve": 8.0}


class Unsupported(Exception):
    """A file this reader leaves to music21."""


def read_musicxml(path: str | os.PathLike) -> Score:
    """The `Score` of a MusicXML file; ``ReadError`` if it is not readable MusicXML."""
    path = Path(path)
    root = _root_element(path)
    if root.tag != "score-partwise":
        raise Unsupported(root.tag)
    try:
        score = _score(root)
    except (ValueError, TypeError, KeyError, ZeroDivisionError) as exc:
        raise ReadError(f"bad MusicXML ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                        path) from None
    score.metadata["source"] = os.fspath(path)
    return score


def _root_element(path: Path) -> ET.Element:
    """The parsed root of a .musicxml/.xml file, or of the score inside an .mxl archive."""
    try:
        if path.suffix.lower() == ".mxl":
            with zipfile.ZipFile(path) as archive:
                name = _mxl_score_name(archive)
                if archive.getinfo(name).file_size > MAX_XML_BYTES:
                    raise ReadError(f"the score inside is over {MAX_XML_BYTES >> 20} MB "
                                    "uncompressed; not reading it", path)
                data = archive.read(name)
        else:
            data = path.read_bytes()
        root = ET.fromstring(data)
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, UnicodeError, zlib.error,
            EOFError, NotImplementedError, RuntimeError) as exc:  # damaged or odd archives
        reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:200]
        raise ReadError(f"not readable MusicXML: {reason}", path) from None
    if root.tag.startswith("{"):  # a namespaced document: drop the namespace
        for element in root.iter():
            element.tag = element.tag.split("}", 1)[-1]
    return root


def _mxl_score_name(archive: zipfile.ZipFile) -> str:
    names = archive.namelist()
    if "META-INF/container.xml" in names:
        container = ET.fromstring(archive.read("META-INF/container.xml"))
        for element in container.iter():
            if element.tag.endswith("rootfile") and element.get("full-path"):
                return element.get("full-path")
    candidates = [n for n in names if n.lower().endswith((".xml", ".musicxml"))
                  and not n.startswith("META-INF")]
    if not candidates:
        raise KeyError("no score inside the archive")
    return candidates[0]


# --- one part -------------------------------------------------------------------------------
class _Part:
    """What one ``<part>`` holds, measure by measure, in units of 1/``unit`` quarter."""

    def __init__(self):
        self.lengths: list[int] = []          # each measure's length
        self.notes: list[tuple] = []          # (measure, onset, length, midi, velocity, staff,
        #                                        tie_start, tie_stop, lyric, unpitched, sounding)
        self.marks: list[tuple] = []          # (measure, onset, kind, value)
        self.chords: list[tuple] = []         # (measure, onset, element)
        self.bars: list[dict] = []            # per measure: repeat and ending marks
        self.staves = 1
        self.pickup = 0                       # units missing from a short first measure


def _number(text, default=0.0) -> float:
    return float(text) if text is not None and text.strip() else default


def _read_part(part: ET.Element, unit: int) -> _Part:
    out = _Part()
    scale, bar_length = unit, 4 * unit  # units per division; the meter's bar
    for index, measure in enumerate(part.iter("measure")):
        cursor = extent = last_onset = 0
        bars = {"forward": False, "backward": 0, "ending": None, "ending_type": None}
        for child in measure:
            tag = child.tag
            if tag == "note":
                length = round(_number(child.findtext("duration")) * scale)
                grace = child.find("grace") is not None
                if child.find("chord") is not None:
                    onset = last_onset
                else:
                    onset = last_onset = cursor
                    if not grace:
                        cursor += length
                extent = max(extent, cursor)
                if grace or length <= 0 or child.find("rest") is not None:
                    continue
                _read_note(out, child, index, onset, length)
            elif tag == "backup":
                cursor -= round(_number(child.findtext("duration")) * scale)
            elif tag == "forward":
                cursor += round(_number(child.findtext("duration")) * scale)
                extent = max(extent, cursor)
            elif tag == "attributes":
                divisions = child.findtext("divisions")
                if divisions is not None and _number(divisions) > 0:
                    scale = unit // round(_number(divisions))
                meter = _meter(child)
                if meter is not None:
                    bar_length = unit * 4 * meter[0] // meter[1]
                    out.marks.append((index, cursor, "meter", meter))
                key = _key(child)
                if key is not None:
                    out.marks.append((index, cursor, "key", key))
                out.staves = max(out.staves, int(_number(child.findtext("staves"), 1)))
            elif tag == "direction":
                offset = round(_number(child.findtext("offset")) * scale)
                tempo = _direction_tempo(child)
                if tempo:
                    out.marks.append((index, max(0, cursor + offset), "tempo", tempo))
            elif tag == "sound" and child.get("tempo"):
                if _number(child.get("tempo")) > 0:
                    out.marks.append((index, cursor, "tempo", _number(child.get("tempo"))))
            elif tag == "harmony":
                offset = round(_number(child.findtext("offset")) * scale)
                out.chords.append((index, max(0, cursor + offset), child))
            elif tag == "barline":
                _read_barline(child, bars)
        if extent == 0:
            extent = bar_length
        if index == 0 and extent < bar_length:
            out.pickup = bar_length - extent
        out.lengths.append(extent)
        out.bars.append(bars)
    return out


def _read_note(out: _Part, note: ET.Element, measure: int, onset: int, length: int) -> None:
    pitch = note.find("pitch")
    unpitched = False
    if pitch is not None:
        midi = ((int(_number(pitch.findtext("octave"), 4)) + 1) * 12
                + _STEP[pitch.findtext("step", "C").strip()]
                + round(_number(pitch.findtext("alter"))))
    else:
        display = note.find("unpitched")
        if display is None:
            return
        unpitched = True
        midi = ((int(_number(display.findtext("display-octave"), 4)) + 1) * 12
                + _STEP[(display.findtext("display-step") or "C").strip()])
    dynamics = note.get("dynamics")
    velocity = (round(_number(dynamics) * 90 / 100) if dynamics is not None
                else DEFAULT_VELOCITY)
    ties = {tie.get("type") for tie in note.findall("tie")}
    lyric = None
    verse = note.find("lyric")
    if verse is not None:
        texts = [t.text or "" for t in verse.findall("text")]
        text = "".join(texts).strip()
        if text.strip():
            syllabic = verse.findtext("syllabic", "single")
            if syllabic in ("begin", "middle"):
                text += "-"
            if syllabic in ("middle", "end"):
                text = "-" + text
            lyric = text
    staff = int(_number(note.findtext("staff"), 1))
    sounding = CUE_NOTES_SOUND or note.find("cue") is None
    out.notes.append((measure, onset, length, midi, min(127, max(1, velocity)), staff,
                      "start" in ties, "stop" in ties, lyric, unpitched, sounding))


def _read_barline(barline: ET.Element, bars: dict) -> None:
    repeat = barline.find("repeat")
    if repeat is not None:
        if repeat.get("direction") == "forward":
            bars["forward"] = True
        elif repeat.get("direction") == "backward":
            bars["backward"] = max(2, int(_number(repeat.get("times"), 2)))
    ending = barline.find("ending")
    if ending is not None:
        numbers = set()
        for piece in (ending.get("number") or "").replace(" ", "").split(","):
            if "-" in piece:
                lo, hi = piece.split("-", 1)
                numbers |= set(range(int(lo), int(hi) + 1))
            elif piece.isdigit():
                numbers.add(int(piece))
        if ending.get("type") == "start":
            bars["ending"] = numbers or {1}
        else:
            bars["ending_type"] = "stop"


def _meter(attributes: ET.Element) -> tuple[int, int] | None:
    time = attributes.find("time")
    if time is None or time.find("beats") is None:
        return None
    beats = sum(int(_number(b)) for b in (time.findtext("beats") or "").split("+") if b.strip())
    beat_type = int(_number(time.findtext("beat-type"), 4))
    return (beats, beat_type) if beats > 0 and beat_type > 0 else None


def _key(attributes: ET.Element) -> tuple[int, int] | None:
    for key in attributes.findall("key"):
        if key.get("number") not in (None, "1") or key.find("fifths") is None:
            continue
        fifths = max(-7, min(7, int(_number(key.findtext("fifths")))))
        major = (fifths * 7) % 12
        mode = (key.findtext("mode") or "major").strip().lower()
        if mode not in _MODE_SHIFT or _MODE_NAME.get(mode, mode) not in MODES:
            return major, MODES.index("major")
        return (major + _MODE_SHIFT[mode]) % 12, MODES.index(_MODE_NAME.get(mode, mode))
    return None


def _direction_tempo(direction: ET.Element) -> float | None:
    sound = direction.find("sound")
    if sound is not None and _number(sound.get("tempo")) > 0:
        return _number(sound.get("tempo"))
    metronome = direction.find("direction-type/metronome")
    if metronome is not None and metronome.findtext("per-minute"):
        try:
            per_minute = float(metronome.findtext("per-minute").strip())
        except ValueError:
            return None
        quarters = _BEAT_UNIT.get((metronome.findtext("beat-unit") or "quarter").strip(), 1.0)
        if metronome.find("beat-unit-dot") is not None:
            quarters *= 1.5
        return per_minute * quarters if per_minute > 0 else None
    return None


# --- repeats ---------------------------------------------------------------------------------
def play_order(bars: list[dict]) -> list[int]:
    """Measure indices in playing order: repeats taken ``times`` times, endings on their
    passes; an end-repeat with no start goes back to after the previous end-repeat."""
    endings = _ending_measures(bars)
    order, i, start, passes, this_pass = [], 0, 0, {}, 1
    limit = MAX_PLAYED_MEASURES * max(1, len(bars))
    while i < len(bars) and len(order) < limit:
        if bars[i]["forward"] and passes.get(("start", i)) is None:
            start, passes[("start", i)] = i, True
        numbers = endings[i]
        if numbers is not None and this_pass not in numbers:
            i += 1
            continue
        order.append(i)
        times = bars[i]["backward"]
        if times:
            done = passes.get(i, 1)
            if done < times:
                passes[i] = done + 1
                this_pass = done + 1
                i = start
                continue
            passes.pop(i, None)
            this_pass, start = 1, i + 1
        elif numbers is not None and (i + 1 == len(bars) or endings[i + 1] is None):
            this_pass, start = 1, i + 1  # the last ending is over
        i += 1
    return order


def _ending_measures(bars: list[dict]) -> list[set | None]:
    """The ending numbers each measure belongs to (None outside endings)."""
    out, current = [], None
    for bar in bars:
        if bar["ending"] is not None:
            current = bar["ending"]
        out.append(current)
        if bar["ending_type"] == "stop" or bar["backward"]:
            current = None
    return out


# --- the score -------------------------------------------------------------------------------
def _score(root: ET.Element) -> Score:
    divisions = {round(_number(d.text)) for d in root.iter("divisions") if _number(d.text) > 0}
    unit = math.lcm(*divisions) if divisions else 1
    names = _part_names(root)
    parts_xml = root.findall("part")
    parts = [_read_part(p, unit) for p in parts_xml]
    pickup = parts[0].pickup if parts else 0
    laid = [_lay_out(part, pickup) for part in parts]   # (starts, order) per part
    values = [np.array([pickup], dtype=np.int64)]
    for part, (starts, order) in zip(parts, laid):
        values += [starts, np.array(part.lengths, dtype=np.int64)]
        if part.notes:
            table = np.array([n[1:3] for n in part.notes], dtype=np.int64)
            values.append(table.ravel())
    tpq = _ticks_per_quarter(np.concatenate(values), unit)

    def tick(value: int) -> int:
        return int(round(value * tpq / unit))

    score = Score(ticks_per_quarter=tpq)
    title = root.findtext("work/work-title") or root.findtext("movement-title")
    if title and title.strip():
        score.metadata["title"] = title.strip()
    tempos, meters, keys = {}, {}, {}
    for number, (element, part, (starts, order)) in enumerate(zip(parts_xml, parts, laid)):
        name, program, drum = names.get(element.get("id"), ("", 0, False))
        score.tracks += _tracks(part, starts, order, tick, name, program, drum)
        for measure, onset, kind, value in part.marks:
            for step in np.flatnonzero(order == measure).tolist():
                at = tick(starts[step] + onset)
                if kind == "tempo":
                    tempos[at] = value
                elif number == 0:
                    (meters if kind == "meter" else keys)[at] = value
    if pickup:  # the marks of the pickup bar hold from the (padded) start of the piece
        for marks in (tempos, meters, keys):
            for at in [t for t in marks if 0 < t <= tick(pickup)]:
                marks.setdefault(0, marks.pop(at))
    score.tempos = np.array(_changes(tempos), dtype=TEMPO_DTYPE)
    score.time_signatures = np.array(_changes(meters), dtype=TIME_SIGNATURE_DTYPE)
    score.key_signatures = np.array(_changes(keys), dtype=KEY_DTYPE)
    score.chords = _chords(parts, laid, tick)
    return score


def _part_names(root: ET.Element) -> dict:
    """part id -> (name, GM program 0-127, plays on the drum channel)."""
    out = {}
    for part in root.iter("score-part"):
        name = " ".join((part.findtext("part-name") or "").split())
        if not name:
            name = (part.findtext("score-instrument/instrument-name") or "").strip()
        program, drum = None, False
        midi = part.find("midi-instrument")
        if midi is not None:
            if midi.findtext("midi-program"):
                program = int(_number(midi.findtext("midi-program"), 1)) - 1
            drum = midi.findtext("midi-channel", "").strip() == "10"
        if program is None:
            program = _program_from_name(name)
        out[part.get("id")] = (name, max(0, min(127, program)), drum)
    return out


def _program_from_name(name: str) -> int:
    """music21's guess of a GM program from an instrument name (0 when it has none)."""
    if not name:
        return 0
    try:
        from music21 import instrument

        found = instrument.fromString(name)
        return int(found.midiProgram) if found.midiProgram is not None else 0
    except Exception:  # music21 raises InstrumentException for names it does not know
        return 0


def _lay_out(part: _Part, pickup: int) -> tuple[np.ndarray, np.ndarray]:
    """(start of each played measure in units, the measure index it plays)."""
    order = np.array(play_order(part.bars), dtype=np.int64)
    lengths = np.array(part.lengths, dtype=np.int64)
    played = lengths[order] if len(order) else np.zeros(0, dtype=np.int64)
    starts = pickup + np.concatenate([[0], np.cumsum(played)[:-1]]).astype(np.int64)
    return starts, order


def _ticks_per_quarter(values: np.ndarray, unit: int) -> int:
    """480, or the least multiple of it that puts every value (1/``unit`` quarters) on
    a tick, while that stays within MIDI's 32767."""
    tpq = DEFAULT_TICKS_PER_QUARTER
    denominators = np.unique(unit // np.gcd(np.abs(values), unit)) if len(values) else []
    for denominator in sorted(int(d) for d in denominators):
        candidate = math.lcm(tpq, denominator)
        if candidate <= MAX_TICKS_PER_QUARTER:
            tpq = candidate
    return tpq


def _tracks(part: _Part, starts, order, tick, name: str, program: int, drum: bool) -> list[Track]:
    """One track per staff: notes played in order, ties merged per staff and pitch."""
    by_measure: dict[int, list[tuple]] = {}
    for note in part.notes:
        by_measure.setdefault(note[0], []).append(note)
    staves = sorted({n[5] for n in part.notes} | set(range(1, part.staves + 1)))
    rows = {s: [] for s in staves}
    lyrics = {s: [] for s in staves}
    unpitched = {s: False for s in staves}
    open_ties: dict[tuple[int, int], list] = {}
    for step, measure in enumerate(order.tolist()):
        for (_, onset, length, midi, velocity, staff, tie_start, tie_stop, lyric, is_unpitched,
             sounding) in sorted(by_measure.get(measure, ()), key=lambda n: n[1]):
            start = starts[step] + onset
            key = (staff, midi)
            held = open_ties.get(key)
            if tie_stop and held is not None and held[0] + held[1] == start:
                held[1] = start + length - held[0]
                if not tie_start:
                    del open_ties[key]
                continue
            row = [start, length, midi, velocity, sounding]
            rows[staff].append(row)
            unpitched[staff] |= is_unpitched
            if tie_start:
                open_ties[key] = row
            if lyric is not None and sounding:
                lyrics[staff].append(Lyric(tick(start), lyric))
    tracks = []
    for staff in staves:
        kept = [r for r in rows[staff] if r[4] and 0 <= r[2] <= 127]
        notes = np.zeros(len(kept), dtype=NOTE_DTYPE)
        if kept:
            table = np.array([r[:4] for r in kept], dtype=np.int64)
            notes["onset"] = [tick(v) for v in table[:, 0].tolist()]
            notes["duration"] = [tick(v) for v in table[:, 1].tolist()]
            notes["pitch"], notes["velocity"] = table[:, 2], table[:, 3]
            notes = notes[notes["duration"] > 0]
            notes = notes[np.argsort(notes["onset"], kind="stable")]
        tracks.append(Track(name=name, program=program & 0x7F, is_drum=drum or unpitched[staff],
                            notes=notes, lyrics=sorted(lyrics[staff], key=lambda l: l.tick)))
    return tracks


def _changes(marks: dict) -> list[tuple]:
    """(tick, *value) rows by tick, leaving out marks that repeat the one before."""
    rows, previous = [], None
    for at, value in sorted(marks.items()):
        value = value if isinstance(value, tuple) else (value,)
        if value != previous:
            rows.append((at, *value))
        previous = value
    return rows


def _chords(parts, laid, tick) -> np.ndarray:
    """The chord table of the first part with ``<harmony>`` symbols, in playing order."""
    for part, (starts, order) in zip(parts, laid):
        if not part.chords:
            continue
        from ..harmony.symbols import chord_table

        found = []
        for measure, onset, element in part.chords:
            chord = _harmony_chord(element)
            if chord is None:
                continue
            for step in np.flatnonzero(order == measure).tolist():
                found.append((tick(starts[step] + onset), chord))
        found.sort(key=lambda item: item[0])
        return chord_table([t for t, _ in found], [c for _, c in found], CHORD_DTYPE)
    return np.zeros(0, dtype=CHORD_DTYPE)


# MusicXML <kind> -> quality name of tunesmith.harmony.QUALITIES
_KIND_QUALITY = {
    "major": "maj", "minor": "min", "augmented": "aug", "diminished": "dim",
    "dominant": "7", "dominant-seventh": "7", "major-seventh": "maj7",
    "minor-seventh": "min7", "diminished-seventh": "dim7", "augmented-seventh": "aug7",
    "half-diminished": "hdim7", "major-minor": "minmaj7", "major-sixth": "maj6",
    "minor-sixth": "min6", "dominant-ninth": "9", "major-ninth": "maj9",
    "minor-ninth": "min9", "dominant-11th": "11", "minor-11th": "min11",
    "dominant-13th": "13", "major-13th": "maj13", "minor-13th": "min13",
    "suspended-second": "sus2", "suspended-fourth": "sus4", "power": "5",
    "major-11th": "maj9", "pedal": "5",
}
_DEGREE_SEMITONES = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 10, 9: 2, 11: 5, 13: 9}


def _harmony_chord(element: ET.Element):
    """The `Chord` of a ``<harmony>`` element (``<kind>none</kind>``: N.C.), by its
    kind plus degree changes; None for a function-only or unknown symbol."""
    from ..harmony.symbols import _BY_INTERVALS, NO_CHORD, QUALITY_INTERVALS, Chord

    kind = (element.findtext("kind") or "").strip()
    if kind == "none":
        return NO_CHORD
    step = element.findtext("root/root-step")
    if step is None or kind not in _KIND_QUALITY or step.strip() not in _STEP:
        return None
    root = (_STEP[step.strip()] + round(_number(element.findtext("root/root-alter")))) % 12
    quality = _KIND_QUALITY[kind]
    tones = set(QUALITY_INTERVALS[quality])
    for degree in element.findall("degree"):
        value = int(_number(degree.findtext("degree-value"), 0))
        if value not in _DEGREE_SEMITONES:
            continue
        semitone = (_DEGREE_SEMITONES[value] + round(_number(degree.findtext("degree-alter")))) % 12
        change = (degree.findtext("degree-type") or "add").strip()
        if change == "subtract":
            tones.discard(semitone)
        elif change == "alter":
            tones.discard(_DEGREE_SEMITONES[value])
            tones.add(semitone)
        else:
            tones.add(semitone)
    quality = _BY_INTERVALS.get(frozenset(tones), quality)
    bass_step = element.findtext("bass/bass-step")
    bass = root
    if bass_step is not None and bass_step.strip() in _STEP:
        bass = (_STEP[bass_step.strip()] + round(_number(element.findtext("bass/bass-alter")))) % 12
    return Chord(root, quality, bass)
