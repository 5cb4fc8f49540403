"""A piano-roll picture of a `Score`: what a composer looks at before listening.

Time runs left to right in bars (numbered from 1, with a line at each bar start), pitch
bottom to top; each track has its own colour, named in the legend; lyrics are written
just above the notes they are sung on; chord symbols (``score.chords``) above the bars.
Drawn with matplotlib's object API (no pyplot state), so it is safe to call from any
thread or process.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import RequestError
from ..score import Score

PIXELS_PER_INCH = 100
_BARS_PER_INCH = 1.2  # horizontal zoom: about 1.2 bars per inch of width
_MAX_WIDTH_INCHES = 80.0  # 8000 px: beyond that the picture is scaled to fit


def draw_pianoroll(score: Score):
    """A matplotlib ``Figure`` of the piano roll (see module doc)."""
    from matplotlib.figure import Figure

    if score.note_count() == 0:
        raise RequestError("the score has no notes to draw")
    end = score.end_tick()
    bars = score.bar_starts(end)
    bars = bars[bars < end] if (bars < end).any() else bars[:1]
    low = min(int(t.notes["pitch"].min()) for t in score.tracks if len(t.notes))
    high = max(int(t.notes["pitch"].max()) for t in score.tracks if len(t.notes))
    width = min(_MAX_WIDTH_INCHES, max(8.0, len(bars) / _BARS_PER_INCH + 2.0))
    height = min(12.0, max(4.0, (high - low + 6) * 0.12 + 1.5))
    fig = Figure(figsize=(width, height), dpi=PIXELS_PER_INCH, layout="constrained")
    ax = fig.add_subplot()
    colours = _track_colours(len(score.tracks))
    for index, track in enumerate(score.tracks):
        if not len(track.notes):
            continue
        notes = track.notes
        label = track.name or f"Track {index + 1}"
        ax.barh(notes["pitch"], notes["duration"], left=notes["onset"], height=0.8,
                color=colours[index], edgecolor="black", linewidth=0.3, alpha=0.85,
                label=f"{label} (drums)" if track.is_drum else label)
        _draw_lyrics(ax, track)
    ax.vlines(bars, low - 2, high + 2, colors="0.55", linewidths=0.6, zorder=0)
    _bar_numbers(ax, bars)
    _draw_chords(ax, score, end)
    ax.set_xlim(0, end)
    ax.set_ylim(low - 2, high + 3)
    octaves = np.arange((low - 2) // 12 * 12 + 12, high + 3, 12)  # label every C: C4 = 60
    ax.set_yticks(octaves, [f"C{c // 12 - 1}" for c in octaves])
    ax.set_ylabel("pitch")
    ax.set_xlabel("bar")
    title = score.metadata.get("title")
    if title:
        fig.suptitle(title)
    ax.legend(loc="upper right", fontsize="small", framealpha=0.8)
    ax.grid(axis="y", color="0.85", linewidth=0.5)
    return fig


def write_pianoroll(score: Score, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Draw ``score`` and save it as a PNG at ``path``, atomically."""
    fig = draw_pianoroll(score)
    with atomic_path(Path(path), overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png")


def _track_colours(count: int) -> list:
    from matplotlib import colormaps

    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(count)]


def _bar_numbers(ax, bars: np.ndarray) -> None:
    """Bar numbers on the time axis: every bar, or every 2nd, 4th... when there are many."""
    step = 1
    while len(bars) / step > 64:
        step *= 2
    shown = np.arange(0, len(bars), step)
    ax.set_xticks(bars[shown], [str(i + 1) for i in shown])
    ax.tick_params(axis="x", labelsize="small")


def _draw_lyrics(ax, track) -> None:
    if not track.lyrics:
        return
    notes = track.notes
    onsets = notes["onset"]
    for lyric in track.lyrics:
        # above the highest note sounding when the syllable is sung
        sounding = (onsets <= lyric.tick) & (onsets + notes["duration"] > lyric.tick)
        pitch = (notes["pitch"][sounding].max() if sounding.any()
                 else notes["pitch"][np.argmin(np.abs(onsets - lyric.tick))])
        ax.text(lyric.tick, float(pitch) + 0.7, lyric.text, fontsize=7, va="bottom",
                ha="left", clip_on=True)


def _draw_chords(ax, score: Score, end: int) -> None:
    """Each chord change's symbol just above the plot, at its tick (a lead sheet's
    line of symbols), with a faint line down through the roll."""
    if len(score.chords) == 0:
        return
    from ..harmony.symbols import spelled_chords

    changes = [(tick, symbol) for tick, symbol in spelled_chords(score) if tick < end]
    above = ax.get_xaxis_transform()  # x in ticks, y in axes fractions
    for tick, symbol in changes:
        ax.text(tick, 1.01, symbol, transform=above, fontsize=8, ha="left",
                va="bottom", fontweight="bold", clip_on=False)
    ax.vlines([tick for tick, _ in changes], 0, 1, transform=above, colors="tab:red",
              linewidths=0.4, alpha=0.35, zorder=0)
