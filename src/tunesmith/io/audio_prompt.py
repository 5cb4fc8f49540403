"""Hum it: a recorded monophonic line (sung, hummed, whistled or played) as a `Score`.

`read_audio_prompt` turns a take into a one-part score that `generate` can continue or
infill like any prompt file:

1. **pitch**: librosa's pYIN, every ``HOP`` samples at ``SAMPLE_RATE`` (23 ms), gives a
   pitch and a voiced flag per frame. The singer's tuning, which may drift over a take,
   is followed by a moving circular mean of each frame's distance to the nearest
   semitone (``TUNING_WINDOW_SECONDS``), and taken out;
2. **notes**: a note starts where the voice starts, where librosa's onset detector hears
   an attack (repeated notes), or where the pitch leaves the note's semitone by more than
   ``PITCH_STEP`` for ``STEP_FRAMES`` frames in a row (vibrato of up to about half a
   semitone stays one note); its pitch is the median of its frames;
3. **time**: the tempo is the one given, else librosa's beat tracker's; either is refined
   by a least-squares fit of the onsets to a sixteenth-note grid (a hummed take drifts
   from any click), and onsets and ends are quantised to the 12-per-quarter grid, on
   sixteenths, or on eighth triplets when those fit the whole take better. The first
   note is the downbeat of bar 1.

Times are in seconds, pitches MIDI numbers, the result at 480 ticks per quarter.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ReadError, RequestError
from ..score import TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track, make_notes

SAMPLE_RATE = 11_025
"""Takes are analysed at this rate (Hz): enough for voices and most instruments up to
C6, and a quarter of the work of 44.1 kHz."""

HOP = 256
"""Samples between analysis frames (23 ms at ``SAMPLE_RATE``): a sixteenth at 160 bpm
is four frames."""

FMIN, FMAX = 65.0, 1100.0
"""Pitch search range in Hz: C2 to about C#6."""

PITCH_STEP = 0.6
"""Semitones from a note's pitch that start a new note (vibrato stays below)."""

STEP_FRAMES = 3
"""Frames in a row a new pitch must hold to count as a new note (70 ms)."""

MIN_NOTE_SECONDS = 0.06
"""Shorter fragments (a breath, a glitch of the pitch tracker) are not notes."""

ATTACK_STRENGTH, ATTACK_DIP, ATTACK_RISE = 0.25, 0.7, 0.6
"""An attack splits a sustained pitch into two notes when its onset strength is at
least ``ATTACK_STRENGTH`` of the take's strongest and the level dips below
``ATTACK_DIP`` of the level just before it and ``ATTACK_RISE`` of the level just after
(a re-articulated note, not tremolo, an attack's chiff or a release)."""

GAP_DIP = 0.4
"""A valley of the level below this fraction of the levels on both sides is a gap
between two notes, onset detector or not."""

TUNING_WINDOW_SECONDS = 3.0
"""Span over which the singer's tuning is measured, centred on each frame."""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
"""Files `read_audio_prompt` reads (through soundfile)."""

TPQ = 480
GRID = 12  # positions per quarter note, as the tokenizer's grid


def read_audio_prompt(path: str | os.PathLike, tempo: float | None = None,
                      meter: tuple[int, int] | None = None, program: int = 73) -> Score:
    """The take at ``path`` as a one-part `Score` (``program``: GM, default flute).
    ``tempo`` (quarter notes per minute) and ``meter`` (default 4/4) guide the
    quantisation when known. Raises `ReadError` for a missing or unreadable file or a
    take with no notes."""
    path = Path(path)
    audio = _load(path)
    try:
        return transcribe(audio, SAMPLE_RATE, tempo=tempo, meter=meter, program=program)
    except ReadError as exc:
        raise ReadError(exc.reason, path) from None


def _load(path: Path) -> np.ndarray:
    """Mono float32 samples at ``SAMPLE_RATE``."""
    import soundfile
    import soxr

    if not path.is_file():
        raise ReadError("no such audio file" if not path.exists() else "not a file", path)
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise ReadError(f"cannot read it as audio: {exc}", path) from None
    if len(audio) < rate // 4:
        raise ReadError("the take is shorter than a quarter of a second", path)
    mono = audio.mean(axis=1)
    if not np.isfinite(mono).all():
        raise ReadError("the take holds samples that are not numbers", path)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def transcribe(audio: np.ndarray, rate: int, tempo: float | None = None,
               meter: tuple[int, int] | None = None, program: int = 73) -> Score:
    """A mono take (float samples at ``rate`` Hz) as a quantised one-part `Score`."""
    notes = detect_notes(audio, rate)
    if len(notes) == 0:
        raise ReadError("no notes heard in the take (is it silent, or not one melodic line?)")
    onsets = np.array([n[0] for n in notes])
    qpm, origin, triplets = fit_grid(onsets, tempo, _librosa_tempo(audio, rate) if tempo is None else None)
    step = 4 if triplets else 3
    units = np.rint((onsets - origin) * qpm / 60 * GRID / step).astype(np.int64) * step
    ends = np.rint((np.array([n[1] for n in notes]) - origin) * qpm / 60 * GRID / step) * step
    keep = np.append(units[1:] != units[:-1], True)  # two notes on one grid point: the later
    units, ends = units[keep], ends[keep].astype(np.int64)
    pitches = np.array([n[2] for n in notes])[keep]
    velocities = np.array([n[3] for n in notes])[keep]
    units -= units[0]
    ends -= (np.rint((onsets[keep][0] - origin) * qpm / 60 * GRID / step) * step).astype(np.int64)
    following = np.append(units[1:], np.iinfo(np.int64).max)
    durations = np.clip(ends - units, step, None)
    durations = np.minimum(durations, following - units)
    ticks = TPQ // GRID
    numerator, denominator = meter or (4, 4)
    return Score(
        ticks_per_quarter=TPQ,
        tracks=[Track("Hummed", int(program), notes=make_notes(
            units * ticks, durations * ticks, pitches, velocities))],
        tempos=np.array([(0, float(tempo or round(qpm, 2)))], dtype=TEMPO_DTYPE),
        time_signatures=np.array([(0, numerator, denominator)], dtype=TIME_SIGNATURE_DTYPE),
        metadata={"title": "audio prompt"})


def detect_notes(audio: np.ndarray, rate: int) -> list[tuple[float, float, int, int]]:
    """(onset s, end s, MIDI pitch, velocity) of each note heard, in order."""
    import librosa

    if rate != SAMPLE_RATE:
        raise RequestError(f"detect_notes expects {SAMPLE_RATE} Hz audio, not {rate}")
    f0, voiced, _ = librosa.pyin(audio, fmin=FMIN, fmax=FMAX, sr=rate, frame_length=1024,
                                 hop_length=HOP, resolution=0.2, max_transition_rate=50)
    voiced &= np.isfinite(f0)
    midi = np.where(voiced, 69 + 12 * np.log2(np.where(voiced, f0, 440.0) / 440.0), np.nan)
    midi = midi - _tuning(midi, rate)
    env = librosa.onset.onset_strength(y=audio, sr=rate, hop_length=HOP)
    peaks = librosa.onset.onset_detect(onset_envelope=env, sr=rate, hop_length=HOP,
                                       units="frames")
    rms = librosa.feature.rms(y=audio, frame_length=1024, hop_length=HOP)[0]
    rms = np.pad(rms, (0, max(0, len(midi) - len(rms))))[:len(midi)]
    starts = _note_starts(midi, _attacks(peaks, env, rms))
    seconds = HOP / rate
    loudest = float(rms.max()) or 1.0
    notes = []
    for first, last in starts:
        frames = midi[first:last]
        if (last - first) * seconds < MIN_NOTE_SECONDS or np.isnan(frames).all():
            continue
        body = frames[len(frames) // 4:] if len(frames) >= 4 else frames  # skip the attack
        pitch = int(np.rint(np.nanmedian(body)))
        level = 20 * np.log10(max(float(rms[first:last].max()), 1e-9) / loudest)
        velocity = int(np.clip(105 + 2 * level, 40, 110))  # 0 dB: 105, -30 dB: 45
        notes.append((first * seconds, last * seconds, pitch, velocity))
    return notes


def _attacks(peaks: np.ndarray, env: np.ndarray, rms: np.ndarray) -> set[int]:
    """Frames where a note is struck again: a valley of the level below ``GAP_DIP`` of
    the levels around it (a gap in the sound), or below ``ATTACK_DIP`` of the level just
    before it and ``ATTACK_RISE`` of the level just after with a peak of the onset
    detector (at least ``ATTACK_STRENGTH`` of the take's strongest) within 5 frames.
    Neither the tremolo of a sustained note, nor the chiff of an instrument's attack,
    nor a release is one."""
    strong = ATTACK_STRENGTH * float(env.max()) if len(env) else 0.0
    struck = np.zeros(len(rms) + 8, dtype=bool)
    struck[[int(p) + 2 for p in peaks if env[int(p)] >= strong]] = True  # frames m-2 on
    found = set()
    for m in range(2, len(rms) - 2):
        if rms[m] > rms[m - 1] or rms[m] > rms[m + 1]:
            continue
        before, after = rms[max(0, m - 8):m].max(), rms[m:m + 8].max()
        if rms[m] < GAP_DIP * min(before, after) or (
                struck[m:m + 8].any() and rms[m] < ATTACK_DIP * before
                and rms[m] < ATTACK_RISE * after):
            rise = np.flatnonzero(rms[m:m + 8] >= (rms[m] + after) / 2)
            found.add(m + int(rise[0]) if len(rise) else m)  # where the new note sounds
    return found


def _tuning(midi: np.ndarray, rate: int) -> np.ndarray:
    """Per frame, the singer's offset from equal temperament (semitones, -0.5..0.5): a
    circular mean of the voiced frames' distances to their nearest semitone, over
    ``TUNING_WINDOW_SECONDS`` around the frame (the whole take's where none is voiced)."""
    voiced = np.isfinite(midi)
    if not voiced.any():
        return np.zeros(len(midi))
    angle = 2 * np.pi * np.where(voiced, midi, 0.0)
    z = np.where(voiced, np.exp(1j * angle), 0)
    width = max(1, min(int(TUNING_WINDOW_SECONDS * rate / HOP), len(midi)))  # "same" size
    kernel = np.ones(width)
    local = np.convolve(z, kernel, mode="same")
    counts = np.convolve(voiced.astype(float), kernel, mode="same")
    overall = z.sum()
    local = np.where(counts >= width / 8, local, overall)
    return np.angle(local) / (2 * np.pi)


def _note_starts(midi: np.ndarray, attacks: set[int]) -> list[tuple[int, int]]:
    """[first, last) frames of each note: voiced runs, split at attacks and at pitch
    steps that hold ``STEP_FRAMES`` frames."""
    from scipy.ndimage import median_filter

    voiced = np.isfinite(midi)
    smooth = np.where(voiced, median_filter(np.where(voiced, midi, 0.0), size=3), np.nan)
    spans = []
    frame, n = 0, len(midi)
    while frame < n:
        if not voiced[frame]:
            frame += 1
            continue
        end = frame
        while end < n and voiced[end]:
            end += 1
        spans += _split_run(smooth, frame, end, attacks)
        frame = end
    return spans


def _split_run(smooth: np.ndarray, first: int, end: int, attacks: set[int]) -> list[tuple[int, int]]:
    """Split one voiced run [first, end) into notes: at attacks, and where the pitch
    leaves the median of the note's last 8 frames (185 ms, a vibrato cycle) by more than
    ``PITCH_STEP`` for ``STEP_FRAMES`` frames (not in a note's first frames: a glide in)."""
    cuts = [first]
    frame = first + 1
    while frame < end:
        since = frame - cuts[-1]
        if frame in attacks and since > STEP_FRAMES + 1:  # not the same start heard twice
            cuts.append(frame)
        elif since > STEP_FRAMES:
            pitch = np.nanmedian(smooth[max(cuts[-1] + 1, frame - 8):frame])
            ahead = smooth[frame:frame + STEP_FRAMES]
            if len(ahead) == STEP_FRAMES and (np.abs(ahead - pitch) > PITCH_STEP).all() \
                    and np.ptp(ahead) < 2 * PITCH_STEP:
                cuts.append(frame)
        frame += 1
    cuts.append(end)
    return list(zip(cuts[:-1], cuts[1:]))


def _librosa_tempo(audio: np.ndarray, rate: int) -> float:
    """librosa's beat tracker's tempo (beats per minute) for the take, or 0 if it hears
    no beat."""
    import librosa

    estimate, _ = librosa.beat.beat_track(y=audio, sr=rate, hop_length=HOP)
    return float(np.atleast_1d(estimate)[0])


def fit_grid(onsets: np.ndarray, tempo: float | None, estimate: float | None
             ) -> tuple[float, float, bool]:
    """(quarters per minute, time of grid zero in s, triplets?) that put ``onsets`` (s)
    on a sixteenth (or eighth-triplet) grid: starting from ``tempo`` or the tracker's
    ``estimate`` (or 100 qpm), the best of tempos within 8% of it, then a least-squares
    fit of onset times to their grid positions."""
    start = tempo or (estimate if estimate and 30 <= estimate <= 300 else 100.0)
    if len(onsets) < 3:
        return float(start), float(onsets[0]), False
    best = None
    for triplets in (False, True):
        step = 1 / 3 if triplets else 1 / 4  # quarters between grid points
        for qpm in start * np.linspace(0.92, 1.08, 81):
            fitted, origin, error = _fit(onsets, qpm, step)
            error *= 1.15 if triplets else 1.0  # straight rhythms unless triplets fit better
            if best is None or error < best[0]:
                best = (error, fitted, origin, triplets)
    _, qpm, origin, triplets = best
    return float(qpm), float(origin), triplets


def _fit(onsets: np.ndarray, qpm: float, step: float) -> tuple[float, float, float]:
    """Least-squares (tempo, origin) of onsets against their nearest grid points from
    ``qpm``, and the RMS distance (in grid steps) that remains."""
    origin = float(onsets[0])
    for _ in range(2):
        beats = (onsets - origin) * qpm / 60
        grid = np.rint(beats / step) * step
        if np.ptp(grid) == 0:
            break
        slope, origin = np.polyfit(grid, onsets, 1)  # seconds per quarter, seconds
        qpm = 60 / slope if slope > 0 else qpm
    residual = ((onsets - origin) * qpm / 60) / step
    error = float(np.sqrt(np.mean((residual - np.rint(residual)) ** 2)))
    return qpm, float(origin), error
