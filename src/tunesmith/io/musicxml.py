"""`Score` to music21 and MusicXML, for notation editors (MuseScore, Finale, Dorico).

A `Score` holds performance times in ticks; notation needs readable note values. This
module snaps times to a grid, spells pitches in the key, and lets music21 do the rest
(bars, ties across barlines, rests, beams, tuplet brackets, voices for overlaps):

* **Grid.** A score whose times all fall on 32nds and sixteenth-note triplets (one read
  from notation) keeps them exactly; a performance is snapped to the nearest sixteenth or
  eighth-note triplet, so that the page stays readable.
* **Spelling.** Each pitch class is spelled as in the key in force: scale degrees as in
  the scale (E# in F# major), the raised sixth and seventh in minor (G# in A minor),
  other white keys as naturals, other black keys as sharps in sharp keys and as flats in
  flat keys.
* **Drums** go on a percussion staff as unpitched notes, placed and headed the way drum
  parts are usually written (kick F4, snare C5, cymbals with x heads).
* **Lyrics.** A `Lyric` is sung on the note of its track that starts at its tick (or the
  note sounding then). A syllable ending in ``-`` continues the word: ``"hal-" "le-"
  "lu-" "jah"`` is written begin, middle, middle, end; any other text is a whole word.
"""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

from ..atomic import write_bytes
from ..errors import WriteError
from ..harmony.music21_chords import insert_symbols, music21_symbols, no_chord_xml
from ..score import LYRIC_CONTINUES, MODES, Score, Track, key_signature_sharps

_EXACT_DIVISORS = (8, 6, 12)  # 32nds, sixteenth and 32nd triplets (our token grid): kept as they are
_SNAP_DIVISORS = (4, 3)  # sixteenths and eighth triplets: where performances are snapped

_STEP_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_WHITE_KEY_STEP = {pc: step for step, pc in _STEP_PITCH_CLASS.items()}
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "D-", "D", "E-", "E", "F", "G-", "G", "A-", "A", "B-", "B")

# GM percussion key -> (display step, display octave, notehead) on a percussion staff.
_DRUM_STAFF = {
    35: ("F", 4, "normal"), 36: ("F", 4, "normal"),  # bass drums
    37: ("C", 5, "x"), 38: ("C", 5, "normal"), 39: ("C", 5, "x"), 40: ("C", 5, "normal"),
    41: ("G", 4, "normal"), 43: ("A", 4, "normal"),  # floor toms
    45: ("B", 4, "normal"), 47: ("D", 5, "normal"), 48: ("E", 5, "normal"),
    50: ("F", 5, "normal"),  # toms, low to high
    42: ("G", 5, "x"), 44: ("D", 4, "x"), 46: ("G", 5, "circle-x"),  # hi-hats
    49: ("A", 5, "x"), 57: ("A", 5, "x"), 52: ("A", 5, "x"), 55: ("A", 5, "x"),  # crashes
    51: ("F", 5, "x"), 59: ("F", 5, "x"), 53: ("F", 5, "diamond"),  # rides
}
_OTHER_DRUM = ("E", 4, "triangle")


def score_to_music21(score: Score):
    """A ``music21.stream.Score`` with one part per track, ready to write as MusicXML.

    Parts carry the track's name and GM instrument; the first part carries the tempo
    marks; every part carries the meters and (pitched parts) the keys.
    """
    from music21 import metadata, stream

    out = stream.Score()
    out.metadata = metadata.Metadata()
    out.metadata.title = score.metadata.get("title", "")
    out.metadata.composer = score.metadata.get("composer", "")  # not music21's "Music21"
    for name, value in score.metadata.items():  # e.g. a draft's provenance
        if name not in ("title", "composer", "source"):
            out.metadata.addCustom(name, str(value))
    ticks = _grid(score)
    end = _padded_end(score, ticks)
    for index, track in enumerate(score.tracks):
        part = _part(score, track, ticks, end, with_tempos=index == 0)
        out.insert(0, part)
    if not score.tracks:
        raise WriteError("the score has no tracks to write as notation")
    return out


def write_musicxml(score: Score, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Write ``score`` as an uncompressed MusicXML file, atomically.

    An existing ``path`` raises ``WriteError`` unless ``overwrite`` is true.
    """
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    if not overwrite and os.path.exists(path):
        raise WriteError("already exists (pass overwrite to replace it)", path)
    data = no_chord_xml(GeneralObjectExporter(score_to_music21(score)).parse())
    write_bytes(path, data, overwrite=overwrite)


# --- time -----------------------------------------------------------------------------
class _Grid:
    """Ticks to quarter lengths (exact ``Fraction``s) on a notation grid."""

    def __init__(self, ticks_per_quarter: int, divisors: tuple[int, ...]):
        self.tpq = ticks_per_quarter
        self.divisors = divisors

    def quarters(self, ticks: np.ndarray, divisors: np.ndarray | None = None) -> list[Fraction]:
        """Each tick snapped to the nearest point of the grid, in quarter notes; with
        ``divisors`` (one per tick), to the nearest multiple of 1/divisor instead."""
        q = np.asarray(ticks, dtype=np.float64) / self.tpq
        if divisors is None:
            divisors = self.divisors_of(ticks)
        return [Fraction(int(n), int(d)) for n, d in zip(np.rint(q * divisors), divisors)]

    def divisors_of(self, ticks: np.ndarray) -> np.ndarray:
        """For each tick, the divisor (of ``self.divisors``) whose grid lies nearest."""
        q = np.asarray(ticks, dtype=np.float64) / self.tpq
        errors = np.stack([np.abs(np.rint(q * d) / d - q) for d in self.divisors])
        return np.asarray(self.divisors)[np.argmin(errors, axis=0)]

    def on_grid(self, ticks: np.ndarray) -> np.ndarray:
        """Whether each tick lies exactly on the grid."""
        ticks = np.asarray(ticks, dtype=np.int64)
        return np.any([(ticks * d) % self.tpq == 0 for d in self.divisors], axis=0)

    @property
    def smallest(self) -> Fraction:
        return Fraction(1, max(self.divisors))


def _grid(score: Score) -> _Grid:
    times = [t.notes["onset"] for t in score.tracks] + [
        t.notes["onset"] + t.notes["duration"] for t in score.tracks]
    times = np.concatenate(times) if times else np.zeros(0, dtype=np.int64)
    exact = _Grid(score.ticks_per_quarter, _EXACT_DIVISORS)
    return exact if exact.on_grid(times).all() else _Grid(score.ticks_per_quarter, _SNAP_DIVISORS)


def _padded_end(score: Score, grid: _Grid) -> Fraction:
    """End of the bar holding the last note, so every part fills its last bar."""
    end = score.end_tick()
    starts = score.bar_starts(end)
    bar_end = starts[-1] if len(starts) and starts[-1] >= end else end
    if len(starts) and starts[-1] < end:  # the last bar start is before the end: add one bar
        meter = score.meter_map()
        num, den = meter[["numerator", "denominator"]][-1].tolist()
        bar_end = starts[-1] + num * score.ticks_per_quarter * 4 // den
    return grid.quarters(np.array([max(bar_end, 1)]))[0]


# --- pitch spelling -------------------------------------------------------------------
def _spelling(tonic: int, mode: int) -> dict[int, str]:
    """Pitch class -> music21 pitch name (``"F#"``, ``"B-"``) in a key (see module doc)."""
    from music21 import key

    sharps = key_signature_sharps(tonic, mode)
    major = key.KeySignature(sharps).asKey("major")
    names: dict[int, str] = {}
    for p in major.getScale().getPitches("C4", "B4"):
        names.setdefault(p.pitchClass, p.name)
    if MODES[mode] == "minor":
        for degree in (5, 6):  # raise the sixth and seventh: A minor gets F# and G#
            natural = (tonic + (8, 10)[degree - 5]) % 12
            raised = names[natural]
            raised = raised[:-1] if raised.endswith("-") else raised + "#"
            names.setdefault((natural + 1) % 12, raised)
    fallback = _SHARP_NAMES if sharps >= 0 else _FLAT_NAMES
    for pc in range(12):
        names.setdefault(pc, _WHITE_KEY_STEP.get(pc) or fallback[pc])
    return names


def _pitch(midi: int, names: dict[int, str]):
    from music21 import pitch

    name = names[midi % 12]
    alter = name.count("#") - name.count("-")
    octave = (midi - _STEP_PITCH_CLASS[name[0]] - alter) // 12 - 1
    return pitch.Pitch(f"{name}{octave}")


# --- parts ----------------------------------------------------------------------------
def _instrument(track: Track):
    from music21 import instrument

    if track.is_drum:
        inst = instrument.UnpitchedPercussion()
        inst.midiChannel = 9
    else:
        try:
            inst = instrument.instrumentFromMidiProgram(int(track.program))
        except Exception:  # music21 knows no class for a few programs
            inst = instrument.Instrument()
            inst.midiProgram = int(track.program)
    inst.partName = track.name or inst.instrumentName or ("Drums" if track.is_drum else "")
    inst.partAbbreviation = inst.partName if len(inst.partName) <= 5 else inst.partName[:4] + "."
    return inst


def _key_changes(score: Score, grid: _Grid) -> list[tuple[Fraction, int, int]]:
    keys = np.sort(score.key_signatures, order="tick")
    offsets = grid.quarters(keys["tick"])
    return [(o, int(k["tonic"]), int(k["mode"])) for o, k in zip(offsets, keys)]


def _part(score: Score, track: Track, grid: _Grid, end: Fraction, with_tempos: bool):
    from music21 import clef, key, meter, note, stream, tempo

    part = stream.Part()
    inst = _instrument(track)
    part.partName = inst.partName
    part.insert(0, inst)
    if track.is_drum:
        part.insert(0, clef.PercussionClef())
    meters = score.meter_map()
    for offset, (num, den) in zip(grid.quarters(meters["tick"]),
                                  meters[["numerator", "denominator"]].tolist()):
        part.insert(offset, meter.TimeSignature(f"{num}/{den}"))
    keys = _key_changes(score, grid)
    if not track.is_drum:
        for offset, tonic, mode in keys:
            part.insert(offset, key.Key(_spelling(tonic, mode)[tonic], MODES[mode]))
    if with_tempos:
        tempos = score.tempo_map()
        for offset, qpm in zip(grid.quarters(tempos["tick"]), tempos["qpm"].tolist()):
            mark = tempo.MetronomeMark(number=round(qpm, 2), referent=1.0)
            mark.placement = "above"  # where editors expect it (MuseScore puts it below)
            part.insert(offset, mark)

    events = _note_events(score, track, grid, keys)
    _attach_lyrics(track, events, grid)
    for offset, element in events:
        part.insert(offset, element)
    last = max((o + e.quarterLength for o, e in events), default=Fraction(0))
    if last < end:  # a rest to the end of the last bar, so all parts end together
        part.insert(last, note.Rest(quarterLength=end - last))
    if not track.is_drum and events:  # one clef for the part, not a new one every bar
        part.insert(0, clef.bestClef(part, recurse=True))
    part.makeRests(fillGaps=True, inPlace=True)
    part.makeNotation(inPlace=True)
    for measure in part.getElementsByClass(stream.Measure):
        # music21 gives every bar of a part the voices its busiest bar needs: an empty
        # bar would show one whole-bar rest per voice. Keep the voices that hold notes,
        # numbered from 1 as editors expect.
        voices = list(measure.voices)
        silent = [voice for voice in voices if not voice.notes]
        for voice in silent[: len(silent) - (len(silent) == len(voices))]:  # keep one
            measure.remove(voice)
        measure.flattenUnnecessaryVoices(inPlace=True)
        for number, voice in enumerate(measure.voices, start=1):
            voice.id = str(number)
    if with_tempos:  # chord symbols go into each bar's first voice once voices are settled
        insert_symbols(part, music21_symbols(score, grid.quarters))
    return part


def _note_events(score: Score, track: Track, grid: _Grid, keys) -> list[tuple[Fraction, object]]:
    """(offset in quarters, music21 Note/Chord) for the track, simultaneous equal notes
    as chords, sorted by offset."""
    from music21 import chord, note, percussion

    notes = track.notes
    if len(notes) == 0:
        return []
    # a note that starts on a triplet is a triplet note: an end off the grid snaps to
    # the grid of its onset, so that a beat is not cut into sixths and twelfths
    divisors = grid.divisors_of(notes["onset"])
    end_ticks = notes["onset"] + notes["duration"]
    end_divisors = np.where(grid.on_grid(end_ticks), grid.divisors_of(end_ticks), divisors)
    onsets = grid.quarters(notes["onset"], divisors)
    ends = grid.quarters(end_ticks, end_divisors)
    groups: dict[tuple[Fraction, Fraction], list[int]] = {}
    for i, (on, off) in enumerate(zip(onsets, ends)):
        off = max(off, on + grid.smallest)
        groups.setdefault((on, off), []).append(i)
    key_offsets = [k[0] for k in keys]
    spellings = {}
    events = []
    for (on, off), members in sorted(groups.items()):
        pitches = sorted({int(notes["pitch"][i]) for i in members})
        velocity = int(max(notes["velocity"][i] for i in members))
        if track.is_drum:
            heads = [_unpitched(p) for p in pitches]
            element = heads[0] if len(heads) == 1 else percussion.PercussionChord(heads)
        else:
            k = int(np.searchsorted(key_offsets, on, side="right")) - 1
            tonic, mode = (keys[k][1], keys[k][2]) if k >= 0 else (0, 0)
            names = spellings.setdefault((tonic, mode), _spelling(tonic, mode))
            spelled = [_pitch(p, names) for p in pitches]
            element = note.Note(spelled[0]) if len(spelled) == 1 else chord.Chord(spelled)
        element.quarterLength = off - on
        element.volume.velocity = velocity
        events.append((on, element))
    return events


def _unpitched(gm_key: int):
    from music21 import note

    step, octave, head = _DRUM_STAFF.get(gm_key, _OTHER_DRUM)
    n = note.Unpitched()
    n.displayStep = step
    n.displayOctave = octave
    n.notehead = head
    return n


def _attach_lyrics(track: Track, events: list[tuple[Fraction, object]], grid: _Grid) -> None:
    """Put each of the track's lyrics on the event starting at (or sounding at) its tick,
    with MusicXML's syllabic begin/middle/end/single (see module doc)."""
    from music21 import note

    if not track.lyrics or not events:
        return
    lyrics = sorted(track.lyrics, key=lambda lyr: lyr.tick)
    offsets = [o for o, _ in events]
    in_word = False
    for lyric, at in zip(lyrics, grid.quarters(np.array([lyr.tick for lyr in lyrics]))):
        text = lyric.text.strip()
        if not text:
            continue
        continues = text.endswith(LYRIC_CONTINUES) and len(text) > 1
        syllabic = ("middle" if continues else "end") if in_word else (
            "begin" if continues else "single")
        in_word = continues
        i = max(0, int(np.searchsorted(offsets, at, side="right")) - 1)
        element = events[i][1]
        element.lyrics.append(note.Lyric(text=text.rstrip(LYRIC_CONTINUES) if continues else text,
                                         number=len(element.lyrics) + 1, syllabic=syllabic,
                                         applyRaw=True))
