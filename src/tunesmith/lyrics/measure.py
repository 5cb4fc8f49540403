"""How words sit in a melody: stressed syllables on strong beats, breaths, pace.

Measured on any sung part with lyrics (a draft, a song, a real song read from a file):
the syllables are joined into words by their hyphens, each word is syllabified again
(`syllables.syllabify`) and, where the counts agree, each sung syllable gets the
word's stress. A strong beat is the downbeat or the bar's other strong beat (beat 3 of
4/4, beat 4 of 6/8; `plan.metric_weight` >= 2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..score import LYRIC_CONTINUES, Score
from .plan import UNITS_PER_QUARTER, Meter, metric_weight
from .syllables import PRIMARY, syllabify


@dataclass
class StressCounts:
    """Counts over one or more songs; the shares are what the reports print."""

    primary: int = 0             # primary stresses of words of 2+ syllables
    primary_strong: int = 0      # ... on a strong beat
    unstressed: int = 0          # unstressed syllables
    unstressed_strong: int = 0   # ... on a strong beat
    unmatched_words: int = 0     # words whose syllable count the dictionary disputes
    primary_beat: int = 0        # primary stresses of long words on any beat
    unstressed_beat: int = 0     # unstressed syllables on any beat

    def add(self, other: "StressCounts") -> "StressCounts":
        return StressCounts(*(a + b for a, b in zip(vars(self).values(), vars(other).values())))

    @property
    def primary_share(self) -> float:
        return self.primary_strong / self.primary if self.primary else float("nan")

    @property
    def primary_beat_share(self) -> float:
        """Primary stresses of long words on any beat (not between beats)."""
        return self.primary_beat / self.primary if self.primary else float("nan")

    @property
    def unstressed_share(self) -> float:
        return self.unstressed_strong / self.unstressed if self.unstressed else float("nan")


def stresses_of(texts: list[str], lang: str = "en") -> list[tuple[int, int] | None]:
    """Per sung syllable (``"beau-"``, ``"ti-"``, ``"ful"``: the `Lyric` convention),
    (stress, syllables of its word), or None where its word cannot be matched."""
    out: list[tuple[int, int] | None] = []
    word: list[str] = []
    for text in texts + [""]:
        if not text and not word:
            continue
        if text:
            word.append(text)
        if text and text.endswith(LYRIC_CONTINUES) and len(text) > 1:
            continue
        joined = "".join(t.rstrip(LYRIC_CONTINUES) if t.endswith(LYRIC_CONTINUES) else t for t in word)
        found = syllabify(joined.replace("_", ""), lang) if any(ch.isalpha() for ch in joined) else []
        if len(found) == len(word):
            out += [(s.stress, len(found)) for s in found]
        else:
            out += [None] * len(word)
        word = []
    return out


def count_stresses(positions_units, meters: list[Meter], texts: list[str], lang: str = "en") -> StressCounts:
    """`StressCounts` of sung syllables at ``positions_units`` (grid units from their
    bar's downbeat) in bars of ``meters`` (one per syllable)."""
    counts = StressCounts()
    for stress, position, meter in zip(stresses_of(texts, lang), positions_units, meters):
        if stress is None:
            counts.unmatched_words += 1
            continue
        weight = int(metric_weight(position, meter))
        if stress[0] == PRIMARY and stress[1] > 1:
            counts.primary += 1
            counts.primary_strong += weight >= 2
            counts.primary_beat += weight >= 1
        elif stress[0] != PRIMARY:
            counts.unstressed += 1
            counts.unstressed_strong += weight >= 2
            counts.unstressed_beat += weight >= 1
    return counts


def score_stresses(score: Score, lang: str = "en") -> StressCounts:
    """`StressCounts` of the lyrics of ``score`` (every track's, each syllable at the
    onset it is sung on)."""
    lyrics = sorted(((lyr.tick, lyr.text.strip()) for t in score.tracks for lyr in t.lyrics), key=lambda x: x[0])
    if not lyrics:
        return StressCounts()
    ticks = np.array([tick for tick, _ in lyrics])
    bar_starts = score.bar_starts(until_tick=int(ticks.max()) + 1)
    bar = np.searchsorted(bar_starts, ticks, side="right") - 1
    units = (ticks - bar_starts[bar]) * UNITS_PER_QUARTER / score.ticks_per_quarter
    meter_map = score.meter_map()
    at = np.searchsorted(meter_map["tick"], ticks, side="right") - 1
    meters = [Meter(int(meter_map["numerator"][i]), int(meter_map["denominator"][i])) if i >= 0 else Meter(4, 4)
              for i in at]
    return count_stresses(np.round(units).astype(int), meters, [text for _, text in lyrics], lang)


def pace(score: Score, track: int = 0) -> dict:
    """Syllables a second of a sung part: the mean over the time it sings (rests of a
    beat or more excluded) and the fastest, from one syllable to the next."""
    lyrics = sorted(lyr.tick for lyr in score.tracks[track].lyrics)
    if len(lyrics) < 2:
        return {"mean": 0.0, "fastest": 0.0}
    seconds = score.ticks_to_seconds(np.asarray(lyrics))
    gaps = np.diff(seconds)
    beat = 60.0 / float(score.tempo_map()["qpm"][0])
    singing = gaps[gaps < beat * 1.01]
    return {"mean": float(len(singing) / singing.sum()) if singing.sum() else 0.0,
            "fastest": float(1.0 / gaps.min()) if gaps.min() > 0 else float("inf")}


def rests_after_lines(score: Score, line_end_ticks: list[int], track: int = 0) -> tuple[int, int]:
    """(line ends followed by a rest, line ends): a line end is the onset of a line's
    last note; a rest is silence in the part before its next note (the piece's end
    counts as one)."""
    notes = np.sort(score.tracks[track].notes, order="onset")
    ends = notes["onset"] + notes["duration"]
    rested = 0
    for tick in line_end_ticks:
        i = int(np.searchsorted(notes["onset"], tick))
        if i >= len(notes) - 1 or notes["onset"][i + 1] > ends[i]:
            rested += 1
    return rested, len(line_end_ticks)
