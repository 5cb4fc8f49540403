"""A song from its words: each tune drafted once, the song laid out section by section.

The sections' tunes (`text.read_words`) are drafted together, each once, in the order
they first appear: the rhythm is planned from the words (`plan.plan_rhythm`) and forced
while the model writes the pitches (`sample.rules.rhythm`). The accompaniment is then
written against that melody by track infilling, one instrument at a time. The song is
laid out from the tunes: a chorus sung again copies its notes (melody, accompaniment,
chords) exactly, a verse with new words keeps its tune's notes and takes the words (or,
with a different number of syllables in a line, is aligned to that line's notes:
`align.align`). With a melody file, the words are aligned to its notes instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

import numpy as np

from ..errors import RequestError
from ..score import NOTE_DTYPE, Lyric, Marker, Score, Track
from .align import align, split_to_fit
from .plan import UNITS_PER_QUARTER, Meter, RhythmPlan, on_strong_beat, place_line, plan_rhythm
from .text import Section

VOICES = {"soprano": "C4-A5", "alto": "F3-D5", "tenor": "C3-A4", "bass": "E2-E4"}
"""Comfortable ranges of the four voices (MIDI note names, inclusive)."""

VOICE_PROGRAM = 52
"""GM program of the guide melody: choir aahs (a sung vowel, audible through the
default SoundFont; see the README's measurement)."""

ACCOMPANIMENTS = {"piano": ["acoustic grand piano"], "guitar": ["acoustic guitar (nylon)"],
                  "band": ["acoustic grand piano", "acoustic bass"], "none": []}
"""Instruments written against the melody, in order, for each ``--accompaniment``."""

SONG_TEMPO = 96.0
"""Default tempo of a song, quarters per minute: unhurried for words, about two
syllables a second in eighths and quarters."""

SONG_METER = "4/4"


@dataclass
class SongSettings:
    """What ``tunesmith song`` asks for; see its ``--help``. ``tempo`` in quarters per
    minute; ``voice`` a name of `VOICES` or a range ``LOW-HIGH``."""

    lang: str = "en"
    key: str | None = "C major"
    time_signature: str = SONG_METER
    tempo: float = SONG_TEMPO
    chords: str | None = None
    voice: str = "soprano"
    accompaniment: str = "piano"
    seed: int = 0
    num_samples: int = 1
    prompt: str | None = None


@dataclass
class SungNote:
    """Where a syllable is sung in the laid-out song: grid units; ``text`` with the
    `Lyric` hyphen convention; ``held``: the syllable goes on over the next notes."""

    onset: int
    text: str
    held: bool
    verse: int = 1


@dataclass
class Song:
    """One drafted song: ``score`` is the song played through (melody with its words,
    accompaniment, chords, section markers); ``sheet`` the lead sheet's music (each
    distinct passage once) and ``sheet_words`` its words, verse numbers included."""

    seed: int
    score: Score
    sheet: Score
    sheet_words: list[SungNote]
    plan: RhythmPlan
    sections: list[Section] = field(default_factory=list)
    line_ends: list[int] = field(default_factory=list)
    """Ticks of each sung line's last note in ``score``, in order."""


def voice_range(voice: str) -> str:
    """The range of a named voice, or ``voice`` itself if it is ``LOW-HIGH``."""
    return VOICES.get(voice.strip().lower(), voice)


def request(**values):
    """A `GenerationRequest` of the fields this build has (a song's requests name a few
    fields newer than the sampler, e.g. ``phrase_bars``)."""
    from ..sample import GenerationRequest

    known = {f.name for f in fields(GenerationRequest)}
    if values.get("chords") and "chords" not in known:
        raise RequestError("--chords needs the harmony rules, which this build lacks")
    return GenerationRequest(**{k: v for k, v in values.items() if k in known})


def check_settings(settings: SongSettings) -> Meter:
    """One-line errors for bad settings, before the model loads; the song's meter."""
    from ..sample import resolve
    from ..sample.request import parse_time_signature

    if settings.accompaniment not in ACCOMPANIMENTS:
        raise RequestError(f"unknown accompaniment {settings.accompaniment!r}: use "
                           + ", ".join(ACCOMPANIMENTS))
    meter = Meter(*parse_time_signature(settings.time_signature))
    resolve(request(bars=1, key=settings.key, time_signature=settings.time_signature,
                    tempo=settings.tempo, programs=[VOICE_PROGRAM],
                    pitch_range=voice_range(settings.voice), chords=settings.chords))
    return meter


def tunes_of(sections: list[Section]) -> list[Section]:
    """The first section of each tune, in the order the tunes first appear."""
    seen: dict[str, Section] = {}
    for section in sections:
        seen.setdefault(section.tune, section)
    return list(seen.values())


def melody_request(settings: SongSettings, plan: RhythmPlan):
    """The request that drafts the tunes' melody over a forced rhythm."""
    return request(bars=plan.bars, key=settings.key, time_signature=settings.time_signature,
                   tempo=settings.tempo, programs=[VOICE_PROGRAM], pitch_range=voice_range(settings.voice),
                   max_polyphony=1, pickup=True, phrase_bars=0, max_repeated_bars=None,
                   chords=settings.chords, rhythm=[[int(o), int(d)] for o, d in zip(plan.onset, plan.duration)],
                   seed=settings.seed, num_samples=settings.num_samples)


def draft_songs(loaded, sections: list[Section], settings: SongSettings, meter: Meter,
                prompt: Score | None = None) -> list[Song]:
    """``settings.num_samples`` songs (see the module docstring), drafted through
    `tunesmith.pipeline` with ``loaded`` (a `pipeline.LoadedModel`)."""
    tunes = tunes_of(sections)
    if prompt is not None:
        return [_song_from_melody(loaded, sections, settings, meter, prompt)]
    plan = song_plan(sections, settings, meter)
    songs = []
    for draft in _draft(loaded, melody_request(settings, plan)):
        melody = draft.score
        melody.tracks[0].name = "melody"
        if settings.chords and settings.chords.strip().lower() != "auto":  # every bar, rests too
            melody.chords = progression_table(settings.chords, melody, plan.bars)
        full = _accompany(loaded, melody, settings, draft.seed)
        songs.append(_lay_out(full, plan, tunes, sections, meter, draft.seed))
    return songs


def song_plan(sections: list[Section], settings: SongSettings, meter: Meter) -> RhythmPlan:
    """The rhythm of each tune once, in order; a one-line error when one draft of the
    model cannot hold it (`MAX_RHYTHM_NOTES` notes, 64 bars)."""
    from ..sample.request import MAX_RHYTHM_NOTES

    tunes = tunes_of(sections)
    plan = plan_rhythm([line for s in tunes for line in s.syllables], meter, settings.tempo,
                       [len(s.lines) for s in tunes])
    if len(plan) > MAX_RHYTHM_NOTES or plan.bars > 64:
        raise RequestError(f"the song's tunes, each sung once, take {len(plan)} notes in {plan.bars} bars; "
                           f"one draft sets at most {MAX_RHYTHM_NOTES} notes in 64 bars: shorten the "
                           "verse or chorus, or set the song in parts")
    return plan


def _draft(loaded, req, prompt: Score | None = None):
    """The drafts of one request, through the one drafting path (nothing written)."""
    from .. import pipeline

    return [result.draft for result in pipeline.draft(pipeline.check(req, prompt=prompt), loaded)]


def progression_table(text: str, score: Score, bars: int) -> np.ndarray:
    """The chord table of a progression as the harmony rules read it (bar b sings over
    the progression's bar b mod its length, a bar's chords splitting it evenly), in
    ticks of ``score``, over ``bars`` bars."""
    from ..harmony.symbols import chord_table, parse_progression
    from ..score import CHORD_DTYPE

    progression = parse_progression(text)
    starts = score.bar_starts(until_tick=int(bars * 4 * score.ticks_per_quarter * 8))
    starts = list(starts[: bars + 1])
    while len(starts) < bars + 1:  # bars after the last note: as long as the one before
        starts.append(starts[-1] + (starts[-1] - starts[-2] if len(starts) > 1 else 4 * score.ticks_per_quarter))
    ticks, chords = [], []
    for b in range(bars):
        in_bar = progression[b % len(progression)]
        length = (starts[b + 1] - starts[b]) / len(in_bar)
        for k, chord in enumerate(in_bar):
            ticks.append(int(starts[b] + k * length))
            chords.append(chord)
    return chord_table(ticks, chords, CHORD_DTYPE)


def _accompany(loaded, melody: Score, settings: SongSettings, seed: int) -> Score:
    """The melody with each instrument of the accompaniment written against it."""
    score = melody
    for program in ACCOMPANIMENTS[settings.accompaniment]:
        req = request(prompt="(the song's melody)", infill_program=program, key=settings.key,
                      time_signature=settings.time_signature, tempo=settings.tempo,
                      chords=settings.chords, seed=seed, num_samples=1)
        score = _draft(loaded, req, prompt=score)[0].score
        score.tracks[-1].name = program.split(" (")[0].split()[-1] if program else "accompaniment"
    return score


def _grid_to_ticks(score: Score) -> float:
    return score.ticks_per_quarter / UNITS_PER_QUARTER


def _lay_out(draft: Score, plan: RhythmPlan, tunes: list[Section], sections: list[Section],
             meter: Meter, seed: int) -> Song:
    """The song played through, and its lead sheet, from the tunes' draft."""
    scale = _grid_to_ticks(draft)
    bar_ticks = meter.bar * scale
    melody = draft.tracks[0]
    order = np.argsort(melody.notes["onset"], kind="stable")
    melody_notes = melody.notes[order]
    first_line, blocks = 0, {}
    for tune in tunes:  # tune -> (first line, lines, first bar, last bar + 1)
        count = len(tune.lines)
        end = plan.line_bars[first_line + count] if first_line + count < len(plan.line_bars) else plan.bars
        blocks[tune.tune] = (first_line, count, plan.line_bars[first_line], end)
        first_line += count
    tempo = float(draft.tempo_map()["qpm"][0])
    song = _empty_like(draft)
    sheet = _empty_like(draft)
    sheet.tracks = sheet.tracks[:1]
    words, sheet_words, line_ends = [], [], []
    cursor_song = cursor_sheet = plan.line_bars[0]
    sheet_blocks: dict[tuple, tuple[int, int]] = {}   # (tune, notes) -> (sheet bar, verses)
    sheet_seen_words: dict[tuple, set] = {}
    last_end = -1
    for section in sections:
        first, count, lo, hi = blocks[section.tune]
        in_tune = (plan.line >= first) & (plan.line < first + count)
        onsets, durations = plan.onset[in_tune], plan.duration[in_tune]
        pitches = melody_notes["pitch"][in_tune]
        velocities = melody_notes["velocity"][in_tune]
        sung = _words_for(section, plan, in_tune, onsets, durations, pitches, velocities, meter,
                          blocks[section.tune], tempo)
        onsets, durations, pitches, velocities, texts, last_of_line = sung
        shift = (cursor_song - lo) * meter.bar
        if last_end >= 0 and onsets[0] + shift < last_end + meter.beat:
            cursor_song += 1
            shift += meter.bar
        _add_notes(song.tracks[0], onsets + shift, durations, pitches, velocities, scale)
        for track_out, track_in in zip(song.tracks[1:], draft.tracks[1:]):
            _copy_bars(track_in, track_out, lo * bar_ticks, hi * bar_ticks, shift * scale)
        _copy_chords(draft, song, lo * bar_ticks, hi * bar_ticks, shift * scale)
        song.markers.append(Marker(int(cursor_song * bar_ticks), section.name))
        words += [SungNote(int(o + shift), t, h) for o, (t, h) in zip(onsets, texts) if t is not None]
        line_ends += [int(round((o + shift) * scale)) for o, last in zip(onsets, last_of_line) if last]
        last_end = int(onsets[-1] + durations[-1] + shift)
        # the lead sheet: each distinct passage once, other words as further verses
        key = (section.tune, tuple(onsets.tolist()), tuple(pitches.tolist()))
        if key not in sheet_blocks:
            sheet_shift = (cursor_sheet - lo) * meter.bar
            _add_notes(sheet.tracks[0], onsets + sheet_shift, durations, pitches, velocities, scale)
            _copy_chords(draft, sheet, lo * bar_ticks, hi * bar_ticks, sheet_shift * scale)
            sheet.markers.append(Marker(int(cursor_sheet * bar_ticks), section.tune))
            sheet_blocks[key] = (sheet_shift, 0)
            sheet_seen_words[key] = set()
            cursor_sheet += hi - lo
        sheet_shift, verses = sheet_blocks[key]
        text_key = tuple(t for t, _ in texts if t is not None)
        if text_key not in sheet_seen_words[key]:
            sheet_seen_words[key].add(text_key)
            sheet_blocks[key] = (sheet_shift, verses + 1)
            sheet_words += [SungNote(int(o + sheet_shift), t, h, verses + 1)
                            for o, (t, h) in zip(onsets, texts) if t is not None]
        cursor_song += hi - lo
    song.tracks[0].lyrics = [Lyric(int(w.onset * scale), w.text) for w in words]
    song.tracks[0].notes = np.sort(song.tracks[0].notes, order="onset")
    sheet.tracks[0].notes = np.sort(sheet.tracks[0].notes, order="onset")
    for w in sheet_words:
        w.onset = int(w.onset * scale)
    song.metadata["title"] = song.metadata.get("title") or "Song"
    return Song(seed, song, sheet, sheet_words, plan, sections, line_ends)


def _words_for(section, plan, in_tune, onsets, durations, pitches, velocities, meter, block, tempo):
    """The section's notes and, per note, (syllable text or None, held over the next
    note): the tune's notes where the words fit them (as many notes, long words'
    stresses on strong beats); else the line's own planned rhythm sung to the tune's
    pitches in order; else (a line too long for its phrase) the words aligned to the
    tune line's notes."""
    first, count, _, block_end = block
    lines = plan.line[in_tune] - first
    texts: list[tuple[str | None, bool]] = []
    out, last_of_line = [[], [], [], []], []
    for k, syllables in enumerate(section.syllables):
        here = lines == k
        ons, durs, pits, vels = onsets[here], durations[here], pitches[here], velocities[here]
        per_note = [(s.text, i) for i, s in enumerate(syllables) for _ in range(s.notes)]
        start = plan.line_bars[first + k] * meter.bar
        end = (plan.line_bars[first + k + 1] if first + k + 1 < len(plan.line_bars) else plan.bars) * meter.bar
        end = min(end, block_end * meter.bar) if k + 1 == count else end
        placed = None
        if not _stresses_fit(syllables, per_note, ons, meter):  # plan this verse's own rhythm
            placed = place_line(syllables, meter, tempo, start, end)
        if placed is not None:  # the tune's pitches, in order, on the new rhythm
            ons2, durs2, syl, fst = placed
            source = np.round(np.linspace(0, len(ons) - 1, len(ons2))).astype(int)
            pits, vels = pits[source], vels[source]
            per_note = [(syllables[i].text, i) for i in syl]
            ons, durs = ons2, durs2
        elif len(per_note) != len(ons):  # another verse with another count: align it
            ons2, durs2 = split_to_fit(ons, durs, len(syllables))
            source = np.searchsorted(ons, ons2, side="right") - 1
            pits, vels = pits[source], vels[source]
            starts = align(ons2, durs2, syllables, meter)
            per_note, current = [], -1
            for s in starts:
                current = s if s >= 0 else current
                per_note.append((syllables[current].text, current))
            ons, durs = ons2, durs2
        for j, (text, index) in enumerate(per_note):
            begins = j == 0 or per_note[j - 1][1] != index
            held = j + 1 < len(per_note) and per_note[j + 1][1] == index
            texts.append((text if begins else None, held and begins))
        for column, values in zip(out, (ons, durs, pits, vels)):
            column.extend(np.asarray(values).tolist())
        last_of_line += [False] * (len(ons) - 1) + [True]
    arrays = [np.asarray(c, dtype=np.int64) for c in out]
    return arrays[0], arrays[1], arrays[2], arrays[3], texts, last_of_line


def _stresses_fit(syllables, per_note, onsets, meter: Meter) -> bool:
    """Whether these words on these notes put every primary stress of a long word on
    a strong beat (as the tune's own words were planned)."""
    if len(per_note) != len(onsets):
        return False
    begins = [j for j, (_, i) in enumerate(per_note) if j == 0 or per_note[j - 1][1] != i]
    return all(on_strong_beat(onsets[j], meter) for j in begins if syllables[per_note[j][1]].primary_of_long_word)


def _empty_like(draft: Score) -> Score:
    song = draft.copy()
    for track in song.tracks:
        track.notes = np.zeros(0, dtype=NOTE_DTYPE)
        track.lyrics = []
    song.chords = song.chords[:0]
    song.markers = []
    return song


def _add_notes(track: Track, onsets, durations, pitches, velocities, scale: float) -> None:
    notes = np.zeros(len(onsets), dtype=NOTE_DTYPE)
    notes["onset"] = np.round(np.asarray(onsets) * scale)
    notes["duration"] = np.round(np.asarray(durations) * scale)
    notes["pitch"] = pitches
    notes["velocity"] = velocities
    track.notes = np.concatenate([track.notes, notes])


def _copy_bars(source: Track, target: Track, lo: float, hi: float, shift: float) -> None:
    """Notes of ``source`` starting in ticks [lo, hi), moved by ``shift`` ticks."""
    notes = source.notes[(source.notes["onset"] >= lo) & (source.notes["onset"] < hi)].copy()
    notes["onset"] += int(shift)
    notes["duration"] = np.minimum(notes["duration"], int(hi) - (notes["onset"] - int(shift)))
    target.notes = np.sort(np.concatenate([target.notes, notes]), order="onset")


def _copy_chords(source: Score, target: Score, lo: float, hi: float, shift: float) -> None:
    table = source.chords
    if not len(table):
        return
    inside = (table["tick"] >= lo) & (table["tick"] < hi)
    before = table[table["tick"] <= lo]
    rows = table[inside].copy()
    if len(before) and (not len(rows) or rows["tick"][0] > lo):  # the chord sounding at lo
        rows = np.concatenate([before[-1:], rows])
        rows["tick"][0] = int(lo)
    rows["tick"] += int(shift)
    target.chords = np.sort(np.concatenate([target.chords, rows]), order="tick")


def _song_from_melody(loaded, sections, settings, meter, prompt: Score) -> Song:
    """The words set to a melody file's first pitched part (see `align.align`)."""
    track = next((t for t in prompt.tracks if not t.is_drum and len(t.notes)), None)
    if track is None:
        raise RequestError("the melody file has no pitched notes to set the words to")
    scale = prompt.ticks_per_quarter / UNITS_PER_QUARTER
    notes = np.sort(track.notes, order="onset")
    notes = notes[np.concatenate([[True], np.diff(notes["onset"]) > 0])]  # one note per onset
    onsets = np.round(notes["onset"] / scale).astype(np.int64)
    durations = np.maximum(np.round(notes["duration"] / scale).astype(np.int64), 1)
    syllables = [s for section in sections for line in section.syllables for s in line]
    line_starts, at = set(), 0
    for section in sections:
        for line in section.syllables:
            line_starts.add(at)
            at += len(line)
    ons2, durs2 = split_to_fit(onsets, durations, len(syllables))
    source = np.searchsorted(onsets, ons2, side="right") - 1
    starts = align(ons2, durs2, syllables, meter, line_starts)
    melody = Score(ticks_per_quarter=prompt.ticks_per_quarter, tempos=prompt.tempos,
                   time_signatures=prompt.time_signatures, key_signatures=prompt.key_signatures,
                   metadata={"title": "Song"})
    melody.tracks.append(Track(name="melody", program=VOICE_PROGRAM))
    _add_notes(melody.tracks[0], ons2, durs2, notes["pitch"][source], notes["velocity"][source], scale)
    full = _accompany(loaded, melody, settings, settings.seed)
    words, current = [], -1
    for j, s in enumerate(starts):
        if s >= 0:
            held = j + 1 < len(starts) and starts[j + 1] < 0
            words.append(SungNote(int(round(ons2[j] * scale)), syllables[s].text, held))
    full.tracks[0].lyrics = [Lyric(w.onset, w.text) for w in words]
    begins = {int(s): j for j, s in enumerate(starts) if s >= 0}
    line_ends = [int(round(ons2[begins[first] - 1] * scale)) for first in sorted(line_starts) if first > 0]
    line_ends.append(int(round(ons2[-1] * scale)))
    plan = RhythmPlan(ons2, durs2, np.maximum.accumulate(np.where(starts >= 0, starts, 0)), starts >= 0,
                      np.zeros(len(ons2), dtype=np.int64), int(-(-int(ons2[-1] + durs2[-1]) // meter.bar)), [0])
    sheet = full.copy()
    sheet.tracks = sheet.tracks[:1]
    sheet.tracks[0].lyrics = []
    return Song(settings.seed, full, sheet, words, plan, sections, line_ends)


def safe_stem(text: str) -> str:
    """A file-name stem from ``text`` (letters, digits, ``-`` and ``_``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "song"
