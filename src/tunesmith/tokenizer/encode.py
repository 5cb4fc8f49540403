"""Score -> token ids, vectorized: one numpy table row per note, bar or tempo change.

The sequence is::

    BOS TimeSig Tempo [Key] (Track_s Program_p)+            header
    Bar [TimeSig] [Key]                                      each bar; meter/key changes
      Position_p [Tempo] [Chord [ChordBass]] ([Track_s] Pitch [Velocity] Duration)*
                                                             each onset or chord change
    ... EOS

Chord controls are written only by a tokenizer with ``TokenizerConfig.chords``: at each
change of ``score.chords`` (the file's own symbols), else of the chords
`tunesmith.harmony.recognise` hears in the notes.

Within a bar, ``Track`` is emitted only when the slot changes (slot 0 is current at every
bar start), and ``Velocity`` only for a slot's first note in the bar or when its bin
changes. Both reset at each bar, so a window that starts at any bar decodes alone.
"""
from __future__ import annotations

import numpy as np

from ..gm import DRUMS
from ..score import MODES, Score
from .vocab import T, Vocabulary

# Columns of the emission table, in the order tokens are written.
_COLUMNS = (T.BAR, T.TIMESIG, T.KEY, T.POSITION, T.TEMPO, T.CHORD, T.CHORD_BASS, T.TRACK, T.PITCH,
            T.VELOCITY, T.DURATION)
_COL = {kind: i for i, kind in enumerate(_COLUMNS)}


def assign_slots(score: Score, max_tracks: int) -> list[tuple[int, list[int]]]:
    """Tracks with notes -> at most ``max_tracks`` slots of (program code, track indices).

    Tracks beyond the limit are merged with a slot of the same instrument; if there are
    still too many instruments, the ones with the fewest notes are dropped.
    """
    used = [i for i, t in enumerate(score.tracks) if len(t.notes)]
    codes = [DRUMS if score.tracks[i].is_drum else int(score.tracks[i].program) for i in used]
    if len(used) <= max_tracks:
        return [(code, [i]) for code, i in zip(codes, used)]
    groups: dict[int, list[int]] = {}
    for code, i in zip(codes, used):
        groups.setdefault(code, []).append(i)
    if len(groups) > max_tracks:
        sizes = {code: sum(len(score.tracks[i].notes) for i in idx) for code, idx in groups.items()}
        keep = set(sorted(groups, key=lambda code: -sizes[code])[:max_tracks])
        groups = {code: idx for code, idx in groups.items() if code in keep}
    return list(groups.items())


def meter_index(vocab: Vocabulary, numerator: int, denominator: int) -> int:
    """Index of the supported meter for n/d: itself, an equal-length spelling, a bar split
    into equal parts (12/4 -> 6/4), or 4/4 as the last resort."""
    table = [tuple(m) for m in vocab.meters.tolist()]
    if (numerator, denominator) in table:
        return table.index((numerator, denominator))
    units = vocab.config.bar_units(numerator, denominator)
    same_length = np.flatnonzero(vocab.meter_units == units)
    if len(same_length):
        return int(same_length[0])
    for parts in range(2, numerator + 1):
        if numerator % parts == 0 and (numerator // parts, denominator) in table:
            return table.index((numerator // parts, denominator))
    return table.index((4, 4)) if (4, 4) in table else 0


def quantize_durations(vocab: Vocabulary, units: np.ndarray) -> np.ndarray:
    """Index of the nearest allowed duration for each length in grid units."""
    values = vocab.duration_values
    right = np.clip(np.searchsorted(values, units), 1, len(values) - 1)
    left = right - 1
    pick_right = np.abs(values[right] - units) < np.abs(units - values[left])
    return np.where(pick_right, right, left)


def bar_grid(vocab: Vocabulary, score: Score, scale: float, end_units: int):
    """Bar starts (grid units) and the meter index of each bar, up to ``end_units``.

    A meter change takes effect at the first bar start at or after its tick, so bars
    always have the full length of their meter and positions stay inside them.
    """
    sigs = score.meter_map()
    ticks = np.rint(sigs["tick"] * scale).astype(np.int64)
    meters = [meter_index(vocab, int(n), int(d)) for n, d in sigs[["numerator", "denominator"]].tolist()]
    starts, bar_meters = [], []
    seg_start, meter = 0, meters[0]
    for tick, new_meter in zip(ticks[1:].tolist(), meters[1:]):
        length = int(vocab.meter_units[meter])
        effective = seg_start + -(-(tick - seg_start) // length) * length
        if effective >= end_units:
            break
        segment = np.arange(seg_start, effective, length, dtype=np.int64)
        starts.append(segment)
        bar_meters.append(np.full(len(segment), meter))
        seg_start, meter = effective, new_meter
    length = int(vocab.meter_units[meter])
    segment = np.arange(seg_start, max(end_units, seg_start + 1), length, dtype=np.int64)
    starts.append(segment)
    bar_meters.append(np.full(len(segment), meter))
    return np.concatenate(starts), np.concatenate(bar_meters).astype(np.int64)


def tempo_bin(vocab: Vocabulary, qpm) -> np.ndarray:
    values = np.log(vocab.tempo_values)
    return np.abs(np.log(np.asarray(qpm, dtype=np.float64))[..., None] - values).argmin(-1)


def chord_changes(vocab: Vocabulary, score: Score, scale: float, end_units: int):
    """(grid unit, Chord token value, ChordBass value or -1) at each chord change before
    ``end_units``: ``score.chords``, else recognised; qualities reduced to
    `CHORD_QUALITIES`, repeats of the chord before dropped, the last change in a unit kept."""
    from ..harmony.symbols import QUALITIES
    from .vocab import CHORD_QUALITIES, CHORD_REDUCTION

    table = score.chords
    if len(table) == 0:
        from ..harmony.recognise import recognised_table

        table = recognised_table(score) if score.note_count() else table
    table = np.sort(table, order="tick", kind="stable")
    units = np.maximum(np.rint(table["tick"] * scale).astype(np.int64), 0)
    n_qualities = len(CHORD_QUALITIES)
    reduced = np.array([CHORD_QUALITIES.index(CHORD_REDUCTION.get(q, q)) for q in QUALITIES])
    quality = table["quality"].astype(np.int64)
    no_chord = quality < 0
    root = table["root"].astype(np.int64) % 12
    value = np.where(no_chord, 12 * n_qualities, root * n_qualities + reduced[np.maximum(quality, 0)])
    bass = np.where(no_chord | (table["bass"] == table["root"]), -1, table["bass"].astype(np.int64) % 12)
    keep = units < end_units
    units, value, bass = units[keep], value[keep], bass[keep]
    if len(units) == 0:  # no chords (drums alone, or nothing the recogniser names)
        return units, value, bass
    last_in_unit = np.append(units[1:] != units[:-1], True)
    units, value, bass = units[last_in_unit], value[last_in_unit], bass[last_in_unit]
    changed = np.append(True, (value[1:] != value[:-1]) | (bass[1:] != bass[:-1]))
    return units[changed], value[changed], bass[changed]


def encode_score(vocab: Vocabulary, score: Score, slots=None, n_bars: int | None = None) -> np.ndarray:
    """Token ids (int64) of ``score``; see the module docstring for the layout.

    ``slots`` (program code, track indices) overrides ``assign_slots`` (empty tracks then
    keep their slot); ``n_bars`` fixes the number of bars (for infilling, where a part
    must span the bars of the whole piece)."""
    config = vocab.config
    scale = config.positions_per_quarter / score.ticks_per_quarter
    if slots is None:
        slots = assign_slots(score, config.max_tracks)

    onset, length, pitch, velocity, slot = [], [], [], [], []
    for s, (_, track_ids) in enumerate(slots):
        for i in track_ids:
            notes = score.tracks[i].notes
            onset.append(np.rint(notes["onset"] * scale).astype(np.int64))
            length.append(notes["duration"] * scale)
            pitch.append(notes["pitch"].astype(np.int64))
            velocity.append(notes["velocity"].astype(np.int64))
            slot.append(np.full(len(notes), s, dtype=np.int64))
    if onset:
        onset, length, pitch, velocity, slot = (np.concatenate(a) for a in (onset, length, pitch, velocity, slot))
    else:
        onset = length = pitch = velocity = slot = np.zeros(0, dtype=np.int64)
    onset = np.maximum(onset, 0)
    duration_idx = quantize_durations(vocab, length)
    velocity_bin = np.clip((velocity - 1) * config.velocity_bins // 127, 0, config.velocity_bins - 1)
    pitch = np.clip(pitch, 0, 127)

    end_units = int((onset + vocab.duration_values[duration_idx]).max()) if len(onset) else 1
    bar_starts, bar_meters = bar_grid(vocab, score, scale, end_units)
    if n_bars is not None:
        missing = n_bars - len(bar_starts)
        if missing > 0:
            step = int(vocab.meter_units[bar_meters[-1]])
            bar_starts = np.append(bar_starts, bar_starts[-1] + step * np.arange(1, missing + 1))
            bar_meters = np.append(bar_meters, np.full(missing, bar_meters[-1]))
        bar_starts, bar_meters = bar_starts[:n_bars], bar_meters[:n_bars]
    note_bar = np.searchsorted(bar_starts, onset, side="right") - 1
    note_pos = onset - bar_starts[note_bar]

    # Tempo: the one in force at tick 0 goes in the header, later changes at their onset.
    tempos = score.tempo_map()
    tempo_units = np.rint(tempos["tick"] * scale).astype(np.int64)
    tempo_bins = tempo_bin(vocab, tempos["qpm"])
    keep = (tempo_units < end_units)
    tempo_units, tempo_bins = tempo_units[keep], tempo_bins[keep]
    last_at_unit = np.append(tempo_units[1:] != tempo_units[:-1], True)
    tempo_units, tempo_bins = tempo_units[last_at_unit], tempo_bins[last_at_unit]
    changed = np.append(True, tempo_bins[1:] != tempo_bins[:-1])
    tempo_units, tempo_bins = tempo_units[changed], tempo_bins[changed]
    header_tempo = int(tempo_bins[0])
    tempo_units, tempo_bins = tempo_units[1:], tempo_bins[1:]
    tempo_bar = np.searchsorted(bar_starts, tempo_units, side="right") - 1
    tempo_pos = tempo_units - bar_starts[tempo_bar]

    # Keys: a change takes effect at the first bar start at or after it.
    keys = np.sort(score.key_signatures, order="tick")
    key_bar = np.searchsorted(bar_starts, np.rint(keys["tick"] * scale).astype(np.int64), side="left")
    key_code = keys["tonic"].astype(np.int64) % 12 * len(MODES) + keys["mode"]
    inside = key_bar < len(bar_starts)
    key_bar, key_code = key_bar[inside], key_code[inside]
    if len(key_bar):
        last_in_bar = np.append(key_bar[1:] != key_bar[:-1], True)
        key_bar, key_code = key_bar[last_in_bar], key_code[last_in_bar]
        key_changed = np.append(True, key_code[1:] != key_code[:-1])
        key_bar, key_code = key_bar[key_changed], key_code[key_changed]

    # Chord changes (tokenizers with chord controls): rows between tempo and notes.
    if config.chords:
        chord_units, chord_value, chord_bass = chord_changes(vocab, score, scale, end_units)
    else:
        chord_units = chord_value = chord_bass = np.zeros(0, dtype=np.int64)
    chord_bar = np.searchsorted(bar_starts, chord_units, side="right") - 1
    chord_pos = chord_units - bar_starts[chord_bar]

    # One row per bar, tempo change, chord change and note; -1 marks "no token here".
    n_bars, n_tempos, n_notes = len(bar_starts), len(tempo_bar), len(onset)
    n_chords = len(chord_bar)
    n_marks = n_bars + n_tempos + n_chords
    rows = n_marks + n_notes
    table = np.full((rows, len(_COLUMNS)), -1, dtype=np.int64)
    sort_bar = np.concatenate([np.arange(n_bars), tempo_bar, chord_bar, note_bar])
    sort_pos = np.concatenate([np.full(n_bars, -1), tempo_pos, chord_pos, note_pos])
    sort_kind = np.concatenate([np.zeros(n_bars), np.ones(n_tempos), np.full(n_chords, 1.5),
                                np.full(n_notes, 2)])
    sort_slot = np.concatenate([np.full(n_marks, -1), slot])
    sort_pitch = np.concatenate([np.full(n_marks, -1), pitch])
    sort_dur = np.concatenate([np.full(n_marks, -1), duration_idx])

    bar_rows = slice(0, n_bars)
    table[bar_rows, _COL[T.BAR]] = vocab.id(T.BAR)
    meter_change = np.append(False, bar_meters[1:] != bar_meters[:-1])
    table[bar_rows, _COL[T.TIMESIG]] = np.where(meter_change, vocab.ids(T.TIMESIG, bar_meters), -1)
    header_key = None
    if len(key_bar) and key_bar[0] == 0:
        header_key, key_bar, key_code = int(key_code[0]), key_bar[1:], key_code[1:]
    table[key_bar, _COL[T.KEY]] = vocab.ids(T.KEY, key_code)
    tempo_rows = slice(n_bars, n_bars + n_tempos)
    table[tempo_rows, _COL[T.TEMPO]] = vocab.ids(T.TEMPO, tempo_bins)
    chord_rows = slice(n_bars + n_tempos, n_marks)
    table[chord_rows, _COL[T.CHORD]] = vocab.ids(T.CHORD, chord_value)
    table[chord_rows, _COL[T.CHORD_BASS]] = np.where(chord_bass >= 0, vocab.ids(T.CHORD_BASS, np.maximum(chord_bass, 0)), -1)
    note_rows = slice(n_marks, rows)
    table[note_rows, _COL[T.PITCH]] = vocab.ids(T.PITCH, pitch)
    table[note_rows, _COL[T.DURATION]] = vocab.ids(T.DURATION, duration_idx)

    order = np.lexsort((sort_dur, sort_pitch, sort_slot, sort_kind, sort_pos, sort_bar))
    table = table[order]
    row_bar, row_pos, row_kind = sort_bar[order], sort_pos[order], sort_kind[order]
    row_slot = sort_slot[order]

    # Position: at the first row of each onset (bar rows have position -1).
    new_onset = (row_kind > 0) & ((row_bar != np.roll(row_bar, 1)) | (row_pos != np.roll(row_pos, 1)))
    new_onset[0] = row_kind[0] > 0
    table[:, _COL[T.POSITION]] = np.where(new_onset, vocab.ids(T.POSITION, np.maximum(row_pos, 0)), -1)

    # Track and velocity, computed over the note rows in emission order.
    is_note = row_kind == 2
    note_order = np.flatnonzero(is_note)
    nb, ns = row_bar[note_order], row_slot[note_order]
    first_in_bar = np.append(True, nb[1:] != nb[:-1])
    prev_slot = np.where(first_in_bar, 0, np.roll(ns, 1))
    table[note_order, _COL[T.TRACK]] = np.where(ns != prev_slot, vocab.ids(T.TRACK, ns), -1)
    vbin = velocity_bin[order[note_order] - n_marks]
    by_slot = np.lexsort((np.arange(len(nb)), ns, nb))
    gb, gs, gv = nb[by_slot], ns[by_slot], vbin[by_slot]
    group_first = np.append(True, (gb[1:] != gb[:-1]) | (gs[1:] != gs[:-1]))
    need = group_first | np.append(True, gv[1:] != gv[:-1])
    need_velocity = np.empty_like(need)
    need_velocity[by_slot] = need
    table[note_order, _COL[T.VELOCITY]] = np.where(need_velocity, vocab.ids(T.VELOCITY, vbin), -1)

    header = [vocab.id(T.BOS), vocab.id(T.TIMESIG, int(bar_meters[0])), vocab.id(T.TEMPO, header_tempo)]
    if header_key is not None:
        header.append(vocab.id(T.KEY, header_key))
    for s, (code, _) in enumerate(slots or [(0, [])]):
        header += [vocab.id(T.TRACK, s), vocab.id(T.PROGRAM, code)]
    body = table.ravel()
    return np.concatenate([np.asarray(header, dtype=np.int64), body[body >= 0],
                           [vocab.id(T.EOS)]]).astype(np.int64)
