"""Dynamics for drafted notes: what a player adds to a score that says nothing of loudness.

The model writes every note at one velocity (76). `apply_dynamics` gives the new
material of a draft the shape a musician would play, deterministically (the same score
always gets the same velocities):

* **metre**: the downbeat is accented, the other strong beats of the meter less (beat 3
  of 4/4, the second dotted beat of 6/8), weak beats are plain, notes between beats
  softer, notes between eighths softer still;
* **phrases**: each 4-bar phrase swells towards its middle and tapers at its end;
* **roles**: the melody (the pitched part highest on average) leads; accompaniment and
  the bass (the lowest part, when there are several) sit a little under it;
* **drums** keep their own pattern: kick and snare strong with the backbeat (beats 2 and
  4 of 4/4) accented, hi-hats soft, softer still off the beat, crashes on the downbeat.

``mode="flat"`` leaves the score untouched (every note as drafted). Velocities are MIDI
(1-127); ticks are the score's.
"""
from __future__ import annotations

import re

import numpy as np

from ..score import Score

MODES = ("shaped", "flat")
"""The dynamics a request may ask for: ``shaped`` (this module) or ``flat`` (as drafted)."""

PHRASE_BARS = 4
"""Bars per phrase for the swell-and-taper shape."""

BASE = {"melody": 86, "accompaniment": 70, "bass": 72, "drums": 84}
"""Velocity of a plain beat at the phrase's start, by role."""

ACCENT_SCALE = {"melody": 1.0, "accompaniment": 0.6, "bass": 0.6}
"""How much of ``METER_ACCENT`` each pitched role takes: the band marks the meter more
gently than the tune, so a bass on every downbeat stays under the melody."""

METER_ACCENT = (10, 5, 0, -4, -7)
"""Velocity added to a note on the downbeat, on another strong beat, on a weak beat,
between beats (an eighth off) and between eighths."""

PHRASE_SWELL = 8
"""Velocity added at the middle of a phrase, over its start; its end gets as much less."""

_KICK_SNARE = {35, 36, 37, 38, 39, 40, 41, 43, 45}    # kicks, snares, claps, low toms
_HATS = {42, 44, 46, 51, 53, 59, 54, 69, 70, 82}      # hats, rides, shakers: time keepers
_CRASH = {49, 52, 55, 57}
_MELODY_NAMES = (re.compile(r"melod|vocal|voice|sing", re.IGNORECASE),
                 re.compile(r"lead", re.IGNORECASE))


def check_mode(mode: str) -> str:
    """``mode`` if it is one of ``MODES``, else a one-line ``RequestError``."""
    if mode not in MODES:
        from ..errors import RequestError

        raise RequestError(f"unknown dynamics {mode!r}: choose from {', '.join(MODES)}")
    return mode


def apply_dynamics(score: Score, mode: str = "shaped", from_tick: int = 0,
                   to_tick: int | None = None, tracks: list[int] | None = None,
                   select: list[np.ndarray] | None = None) -> Score:
    """Set the velocity of every note of ``tracks`` (indices; default all) whose onset
    lies in ``[from_tick, to_tick)`` (ticks; default: to the end), in place; return
    ``score``. ``select`` (one boolean array per track) picks the notes instead. Notes
    not picked (a prompt's own) keep their velocities. The beat grid and the phrases
    count from tick 0 under the score's meter map, so a continuation is shaped as part
    of the whole piece."""
    if check_mode(mode) == "flat":
        return score
    chosen = range(len(score.tracks)) if tracks is None else tracks
    roles = track_roles(score)
    for index in chosen:
        notes = score.tracks[index].notes
        if not len(notes):
            continue
        onsets = notes["onset"].astype(np.int64)
        if select is not None:
            new = np.asarray(select[index], dtype=bool)
        else:
            new = onsets >= from_tick
            if to_tick is not None:
                new &= onsets < to_tick
        if not new.any():
            continue
        strength, phrase = beat_strength(score, onsets[new])
        if roles[index] == "drums":
            velocity = _drum_velocity(notes["pitch"][new], strength, phrase)
        else:
            role = roles[index]
            velocity = (BASE[role] + ACCENT_SCALE[role] * np.take(METER_ACCENT, strength)
                        + PHRASE_SWELL * np.sin(np.pi * phrase) - PHRASE_SWELL * phrase ** 4)
        notes["velocity"][new] = np.clip(np.rint(velocity), 1, 127).astype(notes["velocity"].dtype)
    return score


def shape_draft(piece: Score, generated: Score, mode: str = "shaped",
                prompt: Score | None = None) -> Score:
    """Dynamics for a draft, in place: every note of ``piece`` that is not the
    composer's own is shaped. With a ``prompt`` (the Score it continues or infills, in
    the piece's ticks; its tracks are the piece's first tracks) the notes of each track
    that the prompt's track does not hold are new; without one, every note is (a
    ``--form`` draft's repeated sections included). New notes are played at the
    prompt's level: their shape is kept and their mean moved to the prompt's mean
    velocity. ``generated`` (the new material alone) gets the same velocities. Returns
    ``piece``."""
    if check_mode(mode) == "flat":
        return piece
    select = None
    if prompt is not None:
        select = []
        for index, track in enumerate(piece.tracks):
            own = prompt.tracks[index].notes if index < len(prompt.tracks) else track.notes[:0]
            select.append(~np.isin(_keys(track.notes), _keys(own)))
    apply_dynamics(piece, mode, select=select)
    if prompt is not None:
        _match_level(piece, prompt, select)
    if generated is not piece:
        for g in generated.tracks:
            for track in piece.tracks:
                if (g.name, g.program, g.is_drum) != (track.name, track.program, track.is_drum):
                    continue
                keys, own = _keys(track.notes), _keys(g.notes)
                order = np.argsort(keys, kind="stable")
                found = np.searchsorted(keys, own, sorter=order).clip(0, max(len(keys) - 1, 0))
                hit = keys[order[found]] == own if len(keys) else np.zeros(len(own), bool)
                g.notes["velocity"][hit] = track.notes["velocity"][order[found[hit]]]
    return piece


def _match_level(piece: Score, prompt: Score, select: list[np.ndarray]) -> None:
    """Shift the selected (new) velocities so their mean is the prompt's mean velocity
    (a continuation of a quiet prompt stays quiet)."""
    own = [t.notes["velocity"] for t in prompt.tracks if len(t.notes)]
    new = [t.notes["velocity"][m] for t, m in zip(piece.tracks, select) if m.any()]
    if not own or not new:
        return
    shift = int(round(np.concatenate(own).mean() - np.concatenate(new).mean()))
    for track, chosen in zip(piece.tracks, select):
        shifted = track.notes["velocity"][chosen].astype(np.int64) + shift
        track.notes["velocity"][chosen] = np.clip(shifted, 1, 127)


def _keys(notes: np.ndarray) -> np.ndarray:
    """One int64 per note: onset and pitch, to find a note of one score in another."""
    return notes["onset"].astype(np.int64) * 128 + notes["pitch"].astype(np.int64)


def track_roles(score: Score) -> list[str]:
    """``melody``, ``accompaniment``, ``bass`` or ``drums`` for each track: a track
    named melody, vocal(s) or voice (else lead), else the pitched track with the highest mean
    pitch, is the melody; with three or more pitched tracks,
    or two whose lower one averages below C3, the lowest is the bass."""
    roles = ["drums" if t.is_drum else "accompaniment" for t in score.tracks]
    pitched = [(float(t.notes["pitch"].mean()), i) for i, t in enumerate(score.tracks)
               if not t.is_drum and len(t.notes)]
    if not pitched:
        return roles
    pitched.sort()
    melody = pitched[-1][1]
    for pattern in _MELODY_NAMES:  # the highest part named so, by the names' priority
        named = [i for _, i in pitched if pattern.search(score.tracks[i].name)]
        if named:
            melody = named[-1]
            break
    roles[melody] = "melody"
    if len(pitched) >= 3 or (len(pitched) == 2 and pitched[0][0] < 48):
        roles[pitched[0][1]] = "bass"
    return roles


def beat_strength(score: Score, onsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each onset (ticks): its metrical level, an index into ``METER_ACCENT`` (0
    downbeat, 1 other strong beat, 2 weak beat, 3 between beats, 4 between eighths), and
    its place in its phrase, 0 at the phrase's first downbeat to 1 at its end."""
    tpq = score.ticks_per_quarter
    starts = score.bar_starts(int(onsets.max()))
    bar = np.searchsorted(starts, onsets, side="right") - 1
    meters = score.meter_map()
    which = np.searchsorted(meters["tick"], starts[bar], side="right") - 1
    num = meters["numerator"][which].astype(np.int64)
    den = meters["denominator"][which].astype(np.int64)
    bar_ticks = np.maximum(1, num * tpq * 4 // den)
    pos = onsets - starts[bar]
    compound = (num > 3) & (num % 3 == 0) & (den >= 8)
    beat = np.where(compound, 3 * tpq * 4 // den, tpq * 4 // den)   # ticks per felt beat
    beats_per_bar = np.maximum(1, bar_ticks // np.maximum(beat, 1))
    on_beat = pos % beat == 0
    beat_index = pos // beat
    # the strong beat in the middle of a bar of 4, 6 (2+2+2 compound: 12/8 beat 3) or
    # 2 compound beats (6/8): the bar's middle, when it falls on a beat
    middle = (beats_per_bar % 2 == 0) & (beats_per_bar >= 2) & (beat_index == beats_per_bar // 2)
    sub = np.where(compound, beat // 3, beat // 2)                   # eighth in x/8, x/4
    level = np.where(pos == 0, 0, np.where(on_beat & middle, 1, np.where(
        on_beat, 2, np.where(pos % np.maximum(sub, 1) == 0, 3, 4))))
    phrase_bar = bar % PHRASE_BARS
    phrase = (phrase_bar + pos / bar_ticks) / PHRASE_BARS
    return level, phrase


def _drum_velocity(pitches: np.ndarray, level: np.ndarray, phrase: np.ndarray) -> np.ndarray:
    """Kick and snare: strong, the downbeat and the backbeat accented (a snare on a weak
    beat of 4/4 is the backbeat); hats and rides: soft, softer off the beat; crashes:
    loud on the downbeat; everything with half the melody's phrase swell."""
    pitches = pitches.astype(np.int64)
    kick = np.isin(pitches, list(_KICK_SNARE))
    hats = np.isin(pitches, list(_HATS))
    crash = np.isin(pitches, list(_CRASH))
    snare = np.isin(pitches, [38, 39, 40])
    velocity = np.full(len(pitches), float(BASE["drums"]) - 8)
    velocity[kick] = BASE["drums"] + np.take((8, 4, 0, -10, -14), level[kick])
    velocity[snare & (level == 2)] = BASE["drums"] + 10                    # the backbeat
    velocity[hats] = BASE["drums"] - 12 + np.take((6, 4, 2, -10, -16), level[hats])
    velocity[crash] = BASE["drums"] + np.where(level[crash] == 0, 14, 4)
    return velocity + PHRASE_SWELL / 2 * np.sin(np.pi * phrase)
