"""Token ids -> Score, vectorized. Tolerant: tokens out of place are skipped, a pitch
without a duration is dropped, so that any sequence decodes to a valid Score."""
from __future__ import annotations

import numpy as np

from ..gm import DRUMS, program_name
from ..score import KEY_DTYPE, MODES, NOTE_DTYPE, TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track
from .vocab import T, Vocabulary


def _last_index(mask: np.ndarray) -> np.ndarray:
    """For each position, the index of the latest True at or before it (-1 if none)."""
    idx = np.where(mask, np.arange(len(mask)), -1)
    return np.maximum.accumulate(idx) if len(idx) else idx


def _next_index(mask: np.ndarray) -> np.ndarray:
    """For each position, the index of the earliest True at or after it (len if none)."""
    n = len(mask)
    idx = np.where(mask, np.arange(n), n)
    return np.minimum.accumulate(idx[::-1])[::-1] if n else idx


def decode_ids(vocab: Vocabulary, ids, ticks_per_quarter: int = 480) -> Score:
    """Decode a plain (not infilling-format) sequence; see ``Tokenizer.decode``."""
    config = vocab.config
    ids = np.asarray(ids, dtype=np.int64)
    ids = ids[(ids >= 0) & (ids < vocab.size)]
    eos = np.flatnonzero(ids == vocab.id(T.EOS))
    if len(eos):
        ids = ids[: eos[0]]
    types = vocab.type_of[ids]
    values = vocab.value_of[ids]
    n = len(ids)
    is_bar = types == T.BAR
    bar_of = np.cumsum(is_bar) - 1            # -1 in the header
    n_bars = int(is_bar.sum())
    unit_ticks = ticks_per_quarter / config.positions_per_quarter

    # Header: the tokens before the first Bar.
    first_bar = int(np.argmax(is_bar)) if n_bars else n
    in_header = np.arange(n) < first_bar
    slot_program: dict[int, int] = {}
    header_types, header_values = types[:first_bar], values[:first_bar]
    for j in np.flatnonzero(header_types == T.TRACK):
        if j + 1 < first_bar and header_types[j + 1] == T.PROGRAM:
            slot_program.setdefault(int(header_values[j]), int(header_values[j + 1]))
    if not slot_program:
        slot_program[0] = 0

    # Meter of each bar -> bar start in grid units.
    default_meter = int(np.flatnonzero((vocab.meters[:, 0] == 4) & (vocab.meters[:, 1] == 4))[0])
    meter_at_bar = np.full(max(n_bars, 1), -1, dtype=np.int64)
    header_meters = values[in_header & (types == T.TIMESIG)]
    initial_meter = int(header_meters[-1]) if len(header_meters) else default_meter
    sig_after_bar = (types == T.TIMESIG) & ~in_header
    meter_at_bar[bar_of[sig_after_bar]] = values[sig_after_bar]
    meter_at_bar[0] = meter_at_bar[0] if meter_at_bar[0] >= 0 else initial_meter
    meter_at_bar = meter_at_bar[np.maximum.accumulate(np.where(meter_at_bar >= 0, np.arange(len(meter_at_bar)), 0))]
    bar_units = vocab.meter_units[meter_at_bar].astype(np.int64)
    bar_start = np.concatenate([[0], np.cumsum(bar_units)[:-1]])

    # Position, slot and onset in force at each token.
    last_bar = _last_index(is_bar)
    last_pos = _last_index(types == T.POSITION)
    pos_valid = (last_pos > last_bar) & (bar_of >= 0)
    position = np.where(pos_valid, values[np.maximum(last_pos, 0)], 0)
    last_track = _last_index((types == T.TRACK) & ~in_header)
    slot = np.where(last_track > last_bar, values[np.maximum(last_track, 0)], 0)
    onset_units = bar_start[np.maximum(bar_of, 0)] + position

    # Notes: Pitch, optional Velocity, Duration.
    pitch_at = np.flatnonzero((types == T.PITCH) & pos_valid & np.isin(slot, list(slot_program)))
    after = np.minimum(pitch_at + 1, n - 1)
    has_velocity = (pitch_at + 1 < n) & (types[after] == T.VELOCITY)
    dur_at = np.where(has_velocity, pitch_at + 2, pitch_at + 1)
    ok = dur_at < n
    ok[ok] = types[dur_at[ok]] == T.DURATION
    pitch_at, has_velocity, dur_at = pitch_at[ok], has_velocity[ok], dur_at[ok]

    # A note without a Velocity token takes the slot's previous velocity in the bar.
    note_slot, note_bar = slot[pitch_at], bar_of[pitch_at]
    vel = np.where(has_velocity, values[np.minimum(pitch_at + 1, n - 1)], -1)
    order = np.lexsort((pitch_at, note_slot, note_bar))
    vel_sorted = vel[order]
    group_start = np.append(True, (note_bar[order][1:] != note_bar[order][:-1])
                            | (note_slot[order][1:] != note_slot[order][:-1]))
    default_bin = config.velocity_bins * 5 // 8  # mezzo-forte if a bar forgets its velocity
    vel_sorted = np.where(group_start & (vel_sorted < 0), default_bin, vel_sorted)
    fill = _last_index(vel_sorted >= 0)
    vel[order] = vel_sorted[fill]
    velocity = vocab.velocity_values[vel]

    score = Score(ticks_per_quarter=ticks_per_quarter)
    for s in sorted(slot_program):
        code = slot_program[s]
        mine = note_slot == s
        notes = np.zeros(int(mine.sum()), dtype=NOTE_DTYPE)
        notes["onset"] = np.rint(onset_units[pitch_at[mine]] * unit_ticks)
        notes["duration"] = np.rint(vocab.duration_values[values[dur_at[mine]]] * unit_ticks)
        notes["pitch"] = values[pitch_at[mine]]
        notes["velocity"] = velocity[mine]
        order_notes = np.lexsort((notes["pitch"], notes["onset"]))
        score.tracks.append(Track(name=program_name(code), program=0 if code == DRUMS else code,
                                  is_drum=code == DRUMS, notes=notes[order_notes]))

    # Tempo: header value at tick 0, later ones at their onset.
    tempo_mask = types == T.TEMPO
    tempo_ticks = np.where(in_header[tempo_mask], 0, np.rint(onset_units[tempo_mask] * unit_ticks))
    valid_tempo = in_header[tempo_mask] | pos_valid[tempo_mask]
    tempos = np.zeros(int(valid_tempo.sum()), dtype=TEMPO_DTYPE)
    tempos["tick"] = tempo_ticks[valid_tempo]
    tempos["qpm"] = vocab.tempo_values[values[tempo_mask][valid_tempo]]
    score.tempos = tempos

    # Meters at the bars where they change.
    changes = np.append(True, meter_at_bar[1:] != meter_at_bar[:-1])
    sigs = np.zeros(int(changes.sum()), dtype=TIME_SIGNATURE_DTYPE)
    sigs["tick"] = np.rint(bar_start[changes] * unit_ticks)
    sigs["numerator"] = vocab.meters[meter_at_bar[changes], 0]
    sigs["denominator"] = vocab.meters[meter_at_bar[changes], 1]
    score.time_signatures = sigs

    # Keys: header key at tick 0, later ones at their bar.
    key_mask = (types == T.KEY) & (in_header | (bar_of >= 0))
    keys = np.zeros(int(key_mask.sum()), dtype=KEY_DTYPE)
    keys["tick"] = np.where(in_header[key_mask], 0,
                            np.rint(bar_start[np.maximum(bar_of[key_mask], 0)] * unit_ticks))
    keys["tonic"] = values[key_mask] // len(MODES)
    keys["mode"] = values[key_mask] % len(MODES)
    score.key_signatures = keys
    if config.chords:
        score.chords = _chords(vocab, types, values, pos_valid, onset_units * unit_ticks)
    return score


def _chords(vocab: Vocabulary, types, values, pos_valid, onset_ticks) -> np.ndarray:
    """``score.chords`` from Chord (and ChordBass) tokens, at their onsets."""
    from ..harmony.symbols import QUALITIES
    from ..score import CHORD_DTYPE
    from .vocab import CHORD_QUALITIES

    at = np.flatnonzero((types == T.CHORD) & pos_valid)
    n_qualities = len(CHORD_QUALITIES)
    value = values[at]
    no_chord = value >= 12 * n_qualities
    root = np.where(no_chord, -1, value // n_qualities)
    to_index = np.array([QUALITIES.index(q) for q in CHORD_QUALITIES])
    quality = np.where(no_chord, -1, to_index[np.where(no_chord, 0, value % n_qualities)])
    after = np.minimum(at + 1, len(types) - 1)
    has_bass = (at + 1 < len(types)) & (types[after] == T.CHORD_BASS) & ~no_chord
    table = np.zeros(len(at), dtype=CHORD_DTYPE)
    table["tick"] = np.rint(onset_ticks[at])
    table["root"], table["quality"] = root, quality
    table["bass"] = np.where(has_bass, values[after], root)
    return table
