"""`Score` to audio through a SoundFont synthesizer that needs no system package.

symusic 0.5.9's synthesizer renders a MIDI score with a SoundFont (drums on channel 10,
program changes, several hundred times real time). Three of its habits are handled here:

* it cuts every note dead at its note-off (no release phase) and stops at the last one,
  so the piece would end with a click: the notes that end the piece are held
  ``RELEASE_SECONDS`` longer and faded out over that time, a release tail for the end;
* its float output can exceed full scale, so the result is normalized (see `normalize`);
* with no SoundFont it tries to download one, so we always pass one: by default the
  General MIDI SoundFont that ships inside the pretty_midi package.

Audio arrays here are float32, shaped ``(samples, 2)`` (stereo), at ``SAMPLE_RATE``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ReadError, RequestError
from ..score import Score

SAMPLE_RATE = 44_100
"""Samples per second of every rendered file."""

RELEASE_SECONDS = 1.0
"""Length of the release tail after the end of the last note, in seconds: every render
lasts exactly the piece's duration plus this."""

MAX_AUDIO_SECONDS = 2 * 3600
"""Longer scores are refused (a damaged file can last days: 11 days of stereo float32
would be 350 GB, and the synthesizer aborts with bad_alloc long before)."""

TARGET_RMS_DBFS = -16.0
"""Loudness target: the mix's RMS level in dBFS (about -16 LUFS for most music)."""

PEAK_CEILING_DBFS = -1.0
"""The normalized mix never peaks above this, so nothing clips (in dBFS)."""


def default_soundfont() -> Path:
    """The General MIDI SoundFont inside the pretty_midi package (TimGM6mb.sf2, 6 MB)."""
    import pretty_midi

    return Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")


def check_soundfont(path: str | os.PathLike | None) -> Path:
    """The SoundFont to use: ``path`` if it is a readable .sf2/.sf3 file, else the default."""
    path = default_soundfont() if path is None else Path(path)
    if not path.is_file():
        raise ReadError("no such SoundFont" if not path.exists() else "not a file", path)
    with open(path, "rb") as handle:
        header = handle.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise ReadError("not a SoundFont (expected a RIFF sfbk .sf2 file)", path)
    return path


def _synthesizer(soundfont: Path):
    import symusic

    try:
        return symusic.Synthesizer(str(soundfont), SAMPLE_RATE, 0)
    except Exception as exc:  # symusic raises RuntimeError/ValueError with its own text
        raise ReadError(f"the synthesizer could not load it: {exc}", soundfont) from None


def synthesize(score: Score, soundfont: str | os.PathLike | None = None,
               per_track: bool = False, progress: bool = False) -> list[np.ndarray]:
    """Render ``score`` to stereo float32 audio at ``SAMPLE_RATE``, unnormalized.

    Returns ``[mix]``, or with ``per_track`` one array per track (the mix is their sum,
    exactly as the synthesizer would render it whole; ``progress`` shows a bar over the
    tracks). All arrays have the same length: the end of the last note plus
    ``RELEASE_SECONDS``, in samples.
    """
    from tqdm import tqdm

    from ..io.midi import score_to_symusic

    if score.note_count() == 0:
        raise RequestError("the score has no notes to render as audio")
    if (seconds := score.duration_seconds()) > MAX_AUDIO_SECONDS:
        raise RequestError(f"the score lasts {seconds / 3600:,.1f} hours; audio is rendered "
                           f"for at most {MAX_AUDIO_SECONDS // 3600} hours")
    synth = _synthesizer(check_soundfont(soundfont))
    end = score.end_tick()
    release_ticks = _seconds_to_ticks(score, end, RELEASE_SECONDS)
    sym = score_to_symusic(_hold_last_notes(score, release_ticks))
    for track in sym.tracks:  # drum kits other than the standard one (0) are silent in most GM
        if track.is_drum:     # SoundFonts; the kit number stays in the MIDI we write
            track.program = 0
    end_seconds = float(score.ticks_to_seconds(end))
    length = int(round((end_seconds + RELEASE_SECONDS) * SAMPLE_RATE))
    fade_start = int(round(end_seconds * SAMPLE_RATE))
    fade = _release_fade(length - fade_start)
    base = sym.copy()
    base.tracks = []
    parts = []
    groups = [[t] for t in sym.tracks] if per_track else [list(sym.tracks)]
    for tracks in tqdm(groups, desc="rendering audio", unit="track",
                       disable=not progress or len(groups) < 2):
        if not any(len(t.notes) for t in tracks):
            parts.append(np.zeros((length, 2), dtype=np.float32))
            continue
        one = base.copy()
        one.tracks = list(tracks)
        audio = _fit(np.asarray(synth.render(one, stereo=True), dtype=np.float32), length)
        audio[fade_start:] *= fade[:, None]
        parts.append(audio)
    return parts


def _hold_last_notes(score: Score, release_ticks: int) -> Score:
    """A copy in which the notes that end the piece (within a 32nd of its end) last
    ``release_ticks`` longer, to sound through the release fade."""
    end = score.end_tick()
    held = score.copy()
    for track in held.tracks:
        ends = track.notes["onset"] + track.notes["duration"]
        last = ends >= end - score.ticks_per_quarter // 8
        track.notes["duration"][last] = end + release_ticks - track.notes["onset"][last]
    return held


def _release_fade(samples: int) -> np.ndarray:
    """Gain per sample of the release: an exponential fade reaching -60 dB (and, through
    a linear factor, exact silence) after ``samples``."""
    x = np.linspace(0.0, 1.0, max(samples, 0), dtype=np.float32)
    return 10 ** (-3 * x) * (1 - x)


def _seconds_to_ticks(score: Score, at_tick: int, seconds: float) -> int:
    """Ticks that ``seconds`` last at the tempo in force at ``at_tick``."""
    tempos = score.tempo_map()
    qpm = tempos["qpm"][np.searchsorted(tempos["tick"], at_tick, side="right") - 1]
    return int(np.ceil(seconds * qpm / 60.0 * score.ticks_per_quarter))


def _fit(channels: np.ndarray, length: int) -> np.ndarray:
    """The synthesizer's ``(2, samples)`` output cut or padded with silence to
    ``length`` samples, interleaved as a C-ordered ``(samples, 2)`` array. Copying one
    channel at a time is 8x faster here than copying the transposed array."""
    out = np.zeros((length, channels.shape[0]), dtype=np.float32)
    n = min(length, channels.shape[1])
    for c in range(channels.shape[0]):
        out[:n, c] = channels[c, :n]
    return out


def normalize(mix: np.ndarray) -> float:
    """The gain that brings ``mix`` to ``TARGET_RMS_DBFS`` without its peak exceeding
    ``PEAK_CEILING_DBFS``. Apply the same gain to every stem, so stems still sum to the
    mix. A silent mix gets gain 1."""
    if mix.size == 0:
        return 1.0
    peak = max(float(mix.max()), -float(mix.min()))
    flat = np.ascontiguousarray(mix).reshape(-1)
    rms = float(np.sqrt(np.dot(flat, flat) / flat.size))  # BLAS: no temporary array
    if peak == 0.0 or rms == 0.0:
        return 1.0
    return min(10 ** (TARGET_RMS_DBFS / 20) / rms, 10 ** (PEAK_CEILING_DBFS / 20) / peak)


AUDIO_SUBTYPE = "PCM_24"
"""24-bit samples: headroom for layering in a DAW, and stems that sum to the mix to
within 1e-6 of full scale."""


def write_audio(audio: np.ndarray, path: Path, overwrite: bool = False) -> None:
    """Write float audio (``(samples, channels)``, within [-1, 1]) as WAV or FLAC by the
    path's extension, 24-bit, atomically."""
    import soundfile

    from ..atomic import atomic_path

    fmt = {".wav": "WAV", ".flac": "FLAC"}[path.suffix.lower()]
    with atomic_path(path, overwrite=overwrite) as tmp:
        if max(float(audio.max()), -float(audio.min())) > 1.0:  # a stem louder than the mix
            audio = np.clip(audio, -1.0, 1.0)
        soundfile.write(str(tmp), audio, SAMPLE_RATE, subtype=AUDIO_SUBTYPE, format=fmt)
