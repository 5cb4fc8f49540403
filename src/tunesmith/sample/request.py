"""What a composer asks for, checked before any sampling starts.

A `GenerationRequest` is plain data (saved beside every draft so it can be reproduced);
`parse_*` helpers turn CLI text ("D dorian", "3/4", "C4-C6", "5-8", "flute") into it and
raise `RequestError` with a one-line reason for anything malformed or impossible.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from ..errors import RequestError
from ..gm import DRUMS, playable_range, program_from_name, program_name
from ..score import LYRIC_CONTINUES, MODE_INTERVALS, MODES, PITCH_CLASS_NAMES, parse_key
from .rules.timeline import minor_scale, resolve_harmony, split_minor_form

FREE_MAX_BARS = 64
"""Most bars a draft of free length (``bars=None``) may have."""

_NOTE_RE = re.compile(r"^([A-Ga-g])([#b]{0,2})(-?\d+)$")


def parse_pitch(text: str) -> int:
    """MIDI pitch of a note name with octave (``C4`` = 60, ``F#5``, ``Bb3``) or a number."""
    text = text.strip()
    if text.isdigit():
        value = int(text)
    else:
        match = _NOTE_RE.match(text)
        if not match:
            raise RequestError(f"bad pitch {text!r}: use a note name with octave like C4 or F#5, or 0-127")
        letter, accidental, octave = match.groups()
        value = ({"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[letter.upper()]
                 + accidental.count("#") - accidental.count("b") + 12 * (int(octave) + 1))
    if not 0 <= value <= 127:
        raise RequestError(f"pitch {text!r} is outside MIDI 0-127")
    return value


def parse_range(text: str) -> tuple[int, int]:
    """``"C4-C6"`` -> (60, 84), inclusive."""
    note = r"(?:[A-Ga-g][#b]{0,2}-?\d+|\d+)"
    match = re.match(rf"^\s*({note})\s*(?:-|\.\.|:)\s*({note})\s*$", text)
    if not match:
        raise RequestError(f"bad range {text!r}: use LOW-HIGH, e.g. C4-C6 (C-1-G9 for all of MIDI)")
    low, high = parse_pitch(match.group(1)), parse_pitch(match.group(2))
    if low > high:
        raise RequestError(f"range {text!r} is empty: its low note is above its high note")
    return low, high


def _pitch_name(pitch: int) -> str:
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def playable_pitches(program: int, pitch_range: tuple[int, int] | None, scale) -> list[int]:
    """Pitches an instrument may be given: within what it can play (`gm.playable_range`),
    the requested range and the scale (``None``: any pitch class). Drums: every pitch."""
    if program == DRUMS:
        return list(range(128))
    low, high = playable_range(program)
    if pitch_range:
        low, high = max(low, pitch_range[0]), min(high, pitch_range[1])
    return [p for p in range(low, high + 1) if scale is None or p % 12 in scale]


def _check_playable(program: int, pitch_range, scale, range_text) -> None:
    if playable_pitches(program, pitch_range, scale):
        return
    low, high = playable_range(program)
    reach = f"{program_name(program)} plays {_pitch_name(low)}-{_pitch_name(high)}"
    if pitch_range and (pitch_range[1] < low or pitch_range[0] > high):
        raise RequestError(f"range {range_text} is outside what the instrument can play ({reach})")
    raise RequestError(f"no note of the key lies within range {range_text} for this instrument ({reach})")


def parse_time_signature(text: str) -> tuple[int, int]:
    match = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", text)
    if not match:
        raise RequestError(f"bad time signature {text!r}: use N/D, e.g. 3/4")
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if not 1 <= numerator <= 64 or denominator not in (1, 2, 4, 8, 16, 32):
        raise RequestError(f"time signature {text!r} is not a meter (1-64 beats of a "
                           "whole, half, quarter ... 32nd note)")
    return numerator, denominator


def parse_bar_span(text: str) -> tuple[int, int]:
    """``"5-8"`` -> (5, 8): bars counted from 1, both included."""
    match = re.match(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$", text)
    if not match:
        raise RequestError(f"bad bar span {text!r}: use FIRST-LAST, e.g. 5-8 (bars from 1)")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if first < 1 or last < first:
        raise RequestError(f"bad bar span {text!r}: bars count from 1 and FIRST <= LAST")
    return first, last


@dataclass
class GenerationRequest:
    """One request; every field is optional except what the mode needs.

    bars: bars to write (new bars after a prompt; ignored for infilling); None lets
        the model end the piece itself, after at least one bar and at most FREE_MAX_BARS.
    key: "D dorian"; scale-only pitches unless ``chromatic`` (then out-of-scale notes
        are allowed as short passing notes, at most an eighth long).
    time_signature, tempo (quarters per minute: the CLI converts "72 dotted-quarter",
        see `tunesmith.sample.tempo`), programs (GM names or numbers, one per
        track), pitch_range (MIDI, inclusive, pitched tracks only), max_polyphony (notes
        sounding at once), notes_per_bar (min, max per bar over all tracks).
    lyrics: words to set, one note per syllable: syllables of a word joined by ``-``
        ("Twin-kle twin-kle lit-tle star"). The draft is one monophonic part (the first
        of ``programs``, else a flute) that ends in the bar of the last syllable (``bars``
        is then ignored), with the syllables as lyrics under its notes.
    pickup: let a new piece open with an anacrusis (its first note after the downbeat
        of bar 1); by default the first bar starts on its downbeat, so N bars are N
        full bars.
    prompt: a file to continue, or to infill with ``infill_bars`` (from 1, inclusive) or
        ``infill_program`` (a track of that instrument is written against the others).
    Sampling: temperature, top_k (0 = off), top_p (1 = off), min_p (0 = off),
        repetition_penalty on recently used pitches (1 = off); seed, num_samples, keep.
    """

    bars: int | None = 8
    key: str | None = None
    time_signature: str | None = None
    tempo: float | None = None
    programs: list[str] = field(default_factory=list)
    pitch_range: str | None = None
    chromatic: bool = False
    max_polyphony: int | None = None
    notes_per_bar: tuple[int, int] | None = None
    pickup: bool = False
    lyrics: str | None = None
    prompt: str | None = None
    infill_bars: str | None = None
    infill_program: str | None = None
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int = 0
    num_samples: int = 1
    keep: int | None = None
    dynamics: str = "shaped"
    """``shaped`` (accents by meter, 4-bar phrase swells, parts balanced; see
    `tunesmith.sample.dynamics`) or ``flat`` (every new note as the model wrote it)."""
    max_repeated_bars: int | None = 8
    """Most bars of any 16 in a row that may copy an earlier bar note for note: a mask
    against loops (`sample.rules.form`); None = off. What a ``form`` repeats is copied
    whole and not counted."""
    phrase_bars: int = 4
    """Bars per phrase: every phrase's last bar (and the piece's last) holds a long
    note (a quarter or more) or a rest (an eighth or more), so melodies breathe; 0 = off."""
    form: str | None = None
    """Sections, e.g. "AABA", "A8 A8 B8 A8" or "verse8 chorus8 verse chorus": the same
    name is the same music, a new name new material; bars without a count share
    ``bars`` equally (see `sample.form`)."""
    vary: bool = False
    """With ``form``: a repeated section keeps its rhythm and re-drafts its pitches."""
    rhythm: list[list[int]] | None = None
    """[onset, duration] of every note to write, grid units (12 per quarter) from the
    downbeat of bar 1, one monophonic part: the notes' times are forced and the model
    writes their pitches (`sample.rules.rhythm`; `tunesmith song` plans them from the
    words' stresses)."""
    chords: str | None = None
    """Chords to write over: "C G Am F" (one a bar), "C G/B | Am | F G7" (``|`` between
    bars holding several, which split the bar evenly); repeats over longer drafts; or
    "auto" (the model chooses, the draft reports what it played). See `sample.rules.harmony`."""
    chords_from: str | None = None
    """A file whose chords to write over: its own chord symbols, else recognised ones."""
    end_on_tonic: bool | None = None
    """End the last bar on the tonic chord; None: yes for a new draft with a key and no
    progression."""
    drum_kit: str = "gm"
    """``gm``: a drum part plays General MIDI kit pieces only; ``all``: any drum key."""
    chords_start_bar: int = 0
    """Bar of the progression (from 0) the first new bar plays: a continuation picks the
    progression up there; each window of a long piece sets it (`rules.timeline.window_fields`)."""
    prompt_audio: str | None = None
    """A recording of one melodic line (sung, hummed, played; WAV/FLAC/OGG/MP3) that
    becomes the prompt, as ``prompt`` would (`tunesmith.io.audio_prompt`): its notes are
    heard with librosa and quantised at ``tempo`` and ``time_signature`` when given."""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["notes_per_bar"] = list(self.notes_per_bar) if self.notes_per_bar else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GenerationRequest":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise RequestError(f"unknown request fields: {', '.join(sorted(unknown))}")
        request = cls(**data)
        if request.notes_per_bar is not None:
            request.notes_per_bar = tuple(request.notes_per_bar)
        return request


@dataclass
class ResolvedRequest:
    """A request checked and turned into numbers the sampler uses directly."""

    request: GenerationRequest
    key: tuple[int, int] | None          # tonic pitch class, mode index
    scale: tuple[int, ...] | None        # allowed pitch classes
    meter: tuple[int, int] | None
    programs: list[int]                  # GM programs, 128 = drums
    pitch_range: tuple[int, int] | None
    infill_bars: tuple[int, int] | None  # from 0, inclusive
    infill_program: int | None           # GM program of the part to write (128 = drums)
    syllables: list[str] | None = None   # lyrics, one per note ("Twin-" "kle")
    harmony: object = None               # chords and idioms (`rules.timeline.Harmony`)


def resolve(request: GenerationRequest) -> ResolvedRequest:
    """Check every field; raise `RequestError` (one line) for the first problem."""
    r = request
    _check_values(r)
    r = _audio_as_prompt(r)
    _check_rhythm(r)
    _check_form(r)
    if r.infill_bars and r.infill_program:
        raise RequestError("choose bar infilling or track infilling, not both")
    if (r.infill_bars or r.infill_program) and not r.prompt:
        raise RequestError("infilling needs a prompt file to fill in")
    if not r.infill_bars and not r.infill_program and r.bars is not None and not 1 <= r.bars <= 256:
        raise RequestError(f"bars must be 1-256, not {r.bars}")
    key_text, minor_form = split_minor_form(r.key)
    key = parse_key(key_text) if r.key else None
    scale = None
    if key:
        scale = tuple(sorted((key[0] + i) % 12 for i in MODE_INTERVALS[MODES[key[1]]]))
        scale = minor_scale(key, scale, minor_form)
    meter = parse_time_signature(r.time_signature) if r.time_signature else None
    harmony = resolve_harmony(r, key, bool(r.prompt))
    if harmony.bars and meter is None and not r.prompt:
        meter = (4, 4)  # a progression's bars need a fixed meter: 4/4 unless asked
    if r.tempo is not None and not 20 <= r.tempo <= 400:
        raise RequestError(f"tempo {r.tempo} is outside 20-400 quarters per minute")
    programs = [program_from_name(str(p)) for p in r.programs]
    pitch_range = parse_range(r.pitch_range) if r.pitch_range else None
    if pitch_range and scale and not r.chromatic:
        in_scale = [p for p in range(pitch_range[0], pitch_range[1] + 1) if p % 12 in scale]
        if not in_scale:
            raise RequestError(f"range {r.pitch_range} holds no note of {r.key}")
    for program in programs + ([program_from_name(r.infill_program)] if r.infill_program else []):
        _check_playable(program, pitch_range, scale if not r.chromatic else None, r.pitch_range)
    if r.max_polyphony is not None and r.max_polyphony < 1:
        raise RequestError("max polyphony must be at least 1")
    if r.notes_per_bar is not None:
        low, high = r.notes_per_bar
        if low < 0 or high < max(low, 1):
            raise RequestError(f"notes per bar {low}-{high} is not a range of at least one note")
        if r.max_polyphony is not None and low > r.max_polyphony * 96:
            raise RequestError("notes per bar cannot fit under the polyphony limit")
    if r.temperature <= 0:
        raise RequestError("temperature must be above 0")
    if not 0 < r.top_p <= 1 or not 0 <= r.min_p < 1 or r.top_k < 0 or r.repetition_penalty < 1:
        raise RequestError("sampling needs 0 < top_p <= 1, 0 <= min_p < 1, top_k >= 0 and "
                           "repetition_penalty >= 1")
    if r.num_samples < 1 or (r.keep is not None and not 1 <= r.keep <= r.num_samples):
        raise RequestError("num_samples must be at least 1 and keep between 1 and num_samples")
    infill_program = program_from_name(r.infill_program) if r.infill_program else None
    infill = None
    if r.infill_bars:
        first, last = parse_bar_span(r.infill_bars)
        infill = (first - 1, last - 1)
    syllables = None
    if r.lyrics is not None:
        syllables = split_syllables(r.lyrics)
        if not syllables:
            raise RequestError("the lyrics hold no syllable")
        if len(syllables) > MAX_SYLLABLES:
            raise RequestError(f"{len(syllables)} syllables are more than one draft sets "
                               f"({MAX_SYLLABLES}); set the lyrics a verse at a time")
        if r.prompt:
            raise RequestError("lyrics are set to a new melody, not to a prompt")
        if len(programs) > 1:
            raise RequestError("lyrics are sung by one part: give at most one --program")
        if DRUMS in programs:
            raise RequestError("lyrics are sung by a pitched part, not drums")
        if r.max_polyphony not in (None, 1) or r.notes_per_bar is not None:
            raise RequestError("lyrics set one note per syllable: leave out --max-polyphony "
                               "and --notes-per-bar")
        programs = programs or [LYRICS_PROGRAM]
        r = replace(r, max_polyphony=1, bars=None)  # the syllables set the length
    return ResolvedRequest(r, key, scale, meter, programs, pitch_range, infill, infill_program,
                           syllables, harmony)


SEED_LIMIT = 2**63 - 2**32
"""Seeds run from 0 while ``seed + num_samples`` stays at most this: the sampler's
seeds are 64-bit, with room above for the seeds of a long piece's later windows."""

MAX_SAMPLES = 1_000_000
"""Most drafts one request may ask for."""

MAX_NOTES_PER_BAR = 4096
"""Bound on ``notes_per_bar`` (a bar's grid holds at most a few hundred onsets)."""


def _audio_as_prompt(r: GenerationRequest) -> GenerationRequest:
    """A request whose ``prompt_audio`` is checked like any prompt: the audio path is
    its prompt from here on (the pipeline reads it with `io.audio_prompt`)."""
    if r.prompt_audio is None:
        return r
    if r.prompt:
        raise RequestError("give a prompt file or an audio prompt, not both")
    from ..io.audio_prompt import AUDIO_SUFFIXES

    if not str(r.prompt_audio).lower().endswith(AUDIO_SUFFIXES):
        raise RequestError(f"audio prompt {r.prompt_audio!r} is not an audio file "
                           f"({', '.join(AUDIO_SUFFIXES)})")
    return replace(r, prompt=r.prompt_audio)


def _check_values(r: GenerationRequest) -> None:
    """Raise a one-line `RequestError` for a number that is not finite, an integer out
    of range or an empty string, before anything uses them (the sampler's seeds are
    int64 tensors: a seed past 2**63 used to end in an OverflowError traceback)."""
    import math

    for name in ("temperature", "top_p", "min_p", "repetition_penalty", "tempo"):
        value = getattr(r, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestError(f"{name} must be a number, not {value!r}")
        if not math.isfinite(value):
            raise RequestError(f"{name} must be a finite number, not {value}")
    for name in ("bars", "seed", "num_samples", "keep", "top_k", "max_polyphony"):
        value = getattr(r, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise RequestError(f"{name} must be a whole number, not {value!r}")
    if r.num_samples > MAX_SAMPLES:
        raise RequestError(f"num_samples {r.num_samples} is more than {MAX_SAMPLES:,} drafts")
    if r.notes_per_bar is not None and not all(
            isinstance(n, int) and not isinstance(n, bool) and abs(n) <= MAX_NOTES_PER_BAR
            for n in r.notes_per_bar):
        raise RequestError(f"notes per bar {r.notes_per_bar!r} must be whole numbers up to "
                           f"{MAX_NOTES_PER_BAR}")
    if not 0 <= r.seed or r.seed + max(r.num_samples, 1) > SEED_LIMIT:
        raise RequestError(f"seed {r.seed} is outside 0 to {SEED_LIMIT - max(r.num_samples, 1)} "
                           f"(seed + num_samples must stay within 2**63 - 2**32)")
    for name in ("key", "time_signature", "pitch_range", "prompt", "infill_bars",
                 "infill_program", "prompt_audio"):
        value = getattr(r, name)
        if value is not None and not str(value).strip():
            raise RequestError(f"{name.replace('_', ' ')} is empty: leave it out or give one")
    if any(not str(p).strip() for p in r.programs):
        raise RequestError("an instrument name is empty: give a GM name or number")
    from .dynamics import check_mode

    check_mode(r.dynamics)


def _check_form(r: GenerationRequest) -> None:
    """One-line errors for the form fields (`sample.form` parses ``form`` itself)."""
    limit = r.max_repeated_bars
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise RequestError(f"max repeated bars must be a whole number of at least 0 (or None), not {limit!r}")
    if isinstance(r.phrase_bars, bool) or not isinstance(r.phrase_bars, int) or not 0 <= r.phrase_bars <= 64:
        raise RequestError(f"phrase bars must be 0 (off) to 64, not {r.phrase_bars!r}")
    if r.vary and not r.form:
        raise RequestError("--vary re-drafts a form's repeated sections: give --form too")
    if r.form is not None:
        from .form_spec import parse_form

        parse_form(r.form, r.bars)


MAX_RHYTHM_NOTES = 240
"""Most notes a forced rhythm may hold (each note takes three or four of the model's
1024 tokens)."""


def _check_rhythm(r: GenerationRequest) -> None:
    """One-line errors for a forced rhythm: notes in time order, not overlapping (one
    voice), durations of 1-384 grid units, all inside ``bars`` of the meter."""
    if r.rhythm is None:
        return
    notes = [tuple(note) for note in r.rhythm]
    if not notes or len(notes) > MAX_RHYTHM_NOTES:
        raise RequestError(f"a rhythm holds 1 to {MAX_RHYTHM_NOTES} notes, not {len(notes)}")
    if any(len(n) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in n) for n in notes):
        raise RequestError("a rhythm is a list of [onset, duration] whole grid units")
    for (onset, duration), nxt in zip(notes, notes[1:] + [None]):
        if onset < 0 or not 1 <= duration <= 384:
            raise RequestError(f"rhythm note at {onset}: onsets from 0, durations 1-384 grid units")
        if nxt is not None and onset + duration > nxt[0]:
            raise RequestError(f"rhythm notes at {onset} and {nxt[0]} overlap or are out of order")
    if r.prompt or r.lyrics or r.infill_bars or r.infill_program or r.bars is None or not r.time_signature:
        raise RequestError("a forced rhythm is for a new melody: give bars and a time signature, "
                           "no prompt and no lyrics")


MAX_SYLLABLES = 200
"""Most syllables one draft sets (each note takes three or more of the model's tokens)."""

LYRICS_PROGRAM = 73
"""The part that sings lyrics when no --program is given: a flute, a clear singing line."""


def split_syllables(text: str) -> list[str]:
    """``"Twin-kle twin-kle, lit-tle star"`` -> ``["Twin-", "kle", "twin-", "kle,", "lit-",
    "tle", "star"]``: words split at spaces, syllables at hyphens (kept on the syllable
    that continues, as `tunesmith.score.Lyric` has them)."""
    syllables = []
    for word in text.split():
        parts = [part for part in word.split(LYRIC_CONTINUES) if any(ch.isalnum() for ch in part)]
        syllables += [part + LYRIC_CONTINUES for part in parts[:-1]] + parts[-1:]
    return syllables
