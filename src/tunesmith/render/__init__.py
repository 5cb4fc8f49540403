"""Rendering: what a composer takes away from a `Score`.

One call writes any of these into a folder, each file atomically and none over an
existing file unless asked:

========  ======================================  ===========================================
format    file(s)                                 for
========  ======================================  ===========================================
mid       ``<stem>.mid``                          DAWs: a named track per part, GM programs,
                                                  drums on channel 10, tempo/meter/key, lyrics
musicxml  ``<stem>.musicxml``                     notation editors (MuseScore, Dorico...)
wav/flac  ``<stem>.wav``, with ``stems`` also     listening, and layering in a DAW: 44.1 kHz
          ``<stem>.<track>.wav`` per track        stereo 24-bit; stems as long as the mix and
                                                  summing to it
png       ``<stem>.png``                          a piano roll to look at before listening
========  ======================================  ===========================================

>>> import tunesmith
>>> score = tunesmith.read("tests/data/bach_bwv66.6.mxl")                   # doctest: +SKIP
>>> tunesmith.render(score, "mid,wav,png", "out", stems=True)               # doctest: +SKIP
{'mid': [PosixPath('out/score.mid')], 'wav': [PosixPath('out/score.wav'), ...], ...}

The renderer knows nothing of models: it takes a `Score`, whoever made it.
"""
from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import RequestError, WriteError
from ..score import Score

FORMATS = ("mid", "musicxml", "wav", "flac", "png")
"""Formats `render` writes, each named by its file extension."""

AUDIO_FORMATS = ("wav", "flac")
_ALIASES = {"midi": "mid", "xml": "musicxml", "music-xml": "musicxml"}
VOCALS_STEM = "vocals"
"""Stem name of the layered vocal take: ``<stem>.vocals.wav``."""


def parse_formats(formats: str | Iterable[str]) -> list[str]:
    """``"mid,wav"`` or ``["mid", "wav"]`` -> ``["mid", "wav"]``, checked, in order,
    without repeats. Raises ``RequestError`` naming an unknown format."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen: list[str] = []
    for item in items:
        name = item.strip().lower().lstrip(".")
        name = _ALIASES.get(name, name)
        if not name:
            continue
        if name not in FORMATS:
            raise RequestError(f"unknown format {item.strip()!r}: choose from {', '.join(FORMATS)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise RequestError(f"no output format given: choose from {', '.join(FORMATS)}")
    return chosen


def stem_names(score: Score, vocals: bool = False) -> list[str]:
    """File-name-safe, unique names for the audio stems: one per track (its name, or
    ``track<N>``), then ``vocals`` if a take is layered."""
    names: list[str] = []
    raw = [t.name for t in score.tracks] + ([VOCALS_STEM] if vocals else [])
    for index, name in enumerate(raw):
        safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:40] or f"track{index + 1}"
        unique, n = safe, 2
        while unique.lower() in (x.lower() for x in names):
            unique, n = f"{safe}-{n}", n + 1
        names.append(unique)
    return names


def plan(score: Score, formats: str | Iterable[str], out_dir: str | os.PathLike, *,
         stem: str = "score", stems: bool = False, vocals: bool = False) -> dict[str, list[Path]]:
    """The files `render` would write, by format (the mix first, then stems)."""
    chosen = parse_formats(formats)
    if not stem or "/" in stem or "\\" in stem or stem in (".", ".."):
        raise RequestError(f"bad output name {stem!r}: give a plain file name without folders")
    audio = [f for f in chosen if f in AUDIO_FORMATS]
    if (stems or vocals) and not audio:
        raise RequestError("stems and vocals are audio: add wav or flac to the formats")
    out = Path(out_dir)
    paths: dict[str, list[Path]] = {}
    for fmt in chosen:
        paths[fmt] = [out / f"{stem}.{fmt}"]
        if fmt in AUDIO_FORMATS and (stems or vocals):
            paths[fmt] += [out / f"{stem}.{name}.{fmt}" for name in stem_names(score, vocals)]
    return paths


def render(score: Score, formats: str | Iterable[str], out_dir: str | os.PathLike, *,
           stem: str = "score", stems: bool = False, soundfont: str | os.PathLike | None = None,
           vocals: str | os.PathLike | None = None, vocals_offset: float = 0.0,
           vocals_gain_db: float = 0.0, overwrite: bool = False,
           progress: bool = False, normalize: bool = True) -> dict[str, list[Path]]:
    """Write ``score`` in each of ``formats`` into ``out_dir``; return the paths by format.

    ``stems`` adds one audio file per track. ``vocals`` (a WAV/FLAC/... recording, any
    sample rate or channel count) is mixed over the backing ``vocals_offset`` seconds
    after its start, at ``vocals_gain_db`` dB relative to the take as read (0: its own
    level), and also written as the ``vocals`` stem: the stem is exactly that.
    ``soundfont`` picks a .sf2 other than the default General MIDI one.

    The backing (the score's audio) is loudness-normalized (see `audio.normalize`: RMS
    -16 dBFS, peaks at most -1 dBFS) with one gain for its mix and all its stems, found
    without the vocal, so a stem is the same whatever take is layered over it; the stems
    sum to the mix. ``normalize=False`` keeps the synthesizer's own level (gain 1). A mix
    that would pass full scale is clipped, with a warning on stderr.
    Every path is checked first: if any exists and ``overwrite`` is false, ``WriteError``
    is raised before anything is written.
    """
    paths = plan(score, formats, out_dir, stem=stem, stems=stems, vocals=vocals is not None)
    if not overwrite:
        for path in (p for group in paths.values() for p in group):
            if path.exists():
                raise WriteError("already exists (use --overwrite or overwrite=True to "
                                 "replace it)", path)
    audio_formats = [f for f in paths if f in AUDIO_FORMATS]
    # bad inputs fail here, before anything is written
    if score.note_count() == 0 and ("png" in paths or audio_formats):
        raise RequestError("the score has no notes to draw or to render as audio")
    take = None
    if audio_formats:
        from .audio import SAMPLE_RATE, check_soundfont

        soundfont = check_soundfont(soundfont)
        if vocals is not None:
            from .vocals import check_placement, load_take

            check_placement(vocals_offset, vocals_gain_db)
            take = load_take(vocals, SAMPLE_RATE)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for fmt, group in paths.items():
        if fmt == "mid":
            from ..io.midi import write_midi

            write_midi(score, group[0], overwrite=overwrite)
        elif fmt == "musicxml":
            from ..io.musicxml import write_musicxml

            write_musicxml(score, group[0], overwrite=overwrite)
        elif fmt == "png":
            from .pianoroll import write_pianoroll

            write_pianoroll(score, group[0], overwrite=overwrite)
    if audio_formats:
        tracks = render_audio(score, soundfont=soundfont, stems=stems or take is not None,
                              vocals=take, vocals_offset=vocals_offset,
                              vocals_gain_db=vocals_gain_db, progress=progress,
                              normalize=normalize)
        _warn_if_clipping(tracks[0])
        from .audio import write_audio

        for fmt in audio_formats:
            for path, audio in zip(paths[fmt], tracks):
                write_audio(audio, path, overwrite=overwrite)
    return paths


def render_audio(score: Score, *, soundfont: str | os.PathLike | None = None,
                 stems: bool = False, vocals: np.ndarray | None = None,
                 vocals_offset: float = 0.0, vocals_gain_db: float = 0.0,
                 progress: bool = False, normalize: bool = True) -> list[np.ndarray]:
    """Stereo float32 audio at 44.1 kHz: ``[mix]``, or with ``stems``
    ``[mix, track 1, ..., track N(, vocals)]``, all the same length, stems summing to the
    mix. The backing is normalized (``normalize``) by a gain found before the vocal is
    added; ``vocals`` is a take from `vocals.load_take`, placed by `vocals.place_take`
    at ``vocals_gain_db`` dB relative to the take as read, never normalized."""
    from . import audio as _audio

    parts = _audio.synthesize(score, soundfont, per_track=stems, progress=progress)
    backing = parts[0] if len(parts) == 1 else np.sum(parts, axis=0, dtype=np.float32)
    gain = np.float32(_audio.normalize(backing) if normalize else 1.0)
    for part in parts:
        part *= gain
    if len(parts) > 1:
        backing *= gain
    if vocals is None:
        return [backing] + (parts if stems else [])
    from .vocals import place_take

    take = place_take(vocals, len(backing), _audio.SAMPLE_RATE, vocals_offset, vocals_gain_db)
    parts = [np.pad(p, ((0, len(take) - len(p)), (0, 0))) for p in parts] + [take]
    return [np.pad(backing, ((0, len(take) - len(backing)), (0, 0))) + take] + parts


def _warn_if_clipping(mix: np.ndarray) -> None:
    """One line on stderr when ``mix`` passes full scale (it will be clipped on writing):
    a loud vocal take, or ``normalize=False`` on a synthesizer output above 0 dBFS."""
    peak = max(float(mix.max()), -float(mix.min())) if mix.size else 0.0
    if peak > 1.0:
        print(f"tunesmith: warning: the mix peaks at {20 * np.log10(peak):+.1f} dBFS and is "
              "clipped when written: lower --vocals-gain, or leave normalization on",
              file=sys.stderr)


class _CallableModule(types.ModuleType):
    """``tunesmith.render`` is this package, and calling it calls `render`: Python sets
    a package's name on its parent when it is imported, so a function of the same name
    would be replaced by the module the first time ``tunesmith.render.audio`` (or the
    package) is imported. A callable module is the same object every time."""

    def __call__(self, *args, **kwargs):
        return render(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
