"""Layering a recorded vocal take over the rendered backing.

A take may come at any sample rate and channel count; it is read with soundfile,
resampled to the backing's rate with soxr (the resampler librosa itself uses: calling it
directly skips librosa's import, which took 2-35 s here the first time), made stereo,
shifted by an offset and scaled by a gain, then added to the mix as one more stem.

The gain is in dB relative to the take as read (0 dB: the recording's own level), and
the vocals stem holds exactly the scaled take: the take is never normalized, and the
backing is normalized without it (`tunesmith.render.render_audio`).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ReadError, RequestError


def load_take(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """The take as float32 stereo ``(samples, 2)`` at ``sample_rate``.

    Mono is copied to both sides; more than two channels are mixed down to mono first.
    """
    import soundfile
    import soxr

    path = Path(path)
    if not path.is_file():
        raise ReadError("no such vocal take" if not path.exists() else "not a file", path)
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise ReadError(f"cannot read the vocal take: {exc}", path) from None
    if len(audio) == 0:
        raise ReadError("the vocal take holds no samples", path)
    if audio.shape[1] != 2:
        audio = np.repeat(audio.mean(axis=1, keepdims=True), 2, axis=1)
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


def place_take(take: np.ndarray, length: int, sample_rate: int, offset_seconds: float,
               gain_db: float) -> np.ndarray:
    """The take on the backing's timeline: ``offset_seconds`` after its start (a negative
    offset cuts that much off the take's start), times ``gain_db``. The result is at least
    ``length`` samples long, longer if the take runs past the end of the backing."""
    check_placement(offset_seconds, gain_db)
    shift = int(round(offset_seconds * sample_rate))
    if shift < 0:
        take, shift = take[-shift:], 0
    placed = np.zeros((max(length, shift + len(take)), take.shape[1]), dtype=np.float32)
    placed[shift:shift + len(take)] = take * np.float32(10 ** (gain_db / 20))
    return placed


def check_placement(offset_seconds: float, gain_db: float) -> None:
    """Raise ``RequestError`` unless the offset (seconds) and gain (dB) are usable."""
    if not np.isfinite(offset_seconds) or not np.isfinite(gain_db):
        raise RequestError("the vocal offset and gain must be finite numbers")
    if gain_db > 40:
        raise RequestError(f"vocal gain {gain_db:g} dB is more than +40 dB: is it a typo?")
