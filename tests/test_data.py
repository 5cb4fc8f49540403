"""`TokenWindows`: bar-aligned windows with their header, determinism, augmentation."""
from __future__ import annotations

import numpy as np
import pytest

from tunesmith.data import TokenWindows
from tunesmith.errors import DataError
from tunesmith.gm import DRUMS
from tunesmith.tokenizer import T


def _unpadded(row: np.ndarray, pad_id: int) -> np.ndarray:
    keep = np.flatnonzero(row != pad_id)
    return row[:keep[-1] + 1] if len(keep) else row[:0]


def _locate(windows: TokenWindows, ids: np.ndarray):
    """The (piece, bar) whose header + bars ``ids`` is, or None."""
    tok = windows.tokenizer
    for i in range(windows.num_pieces):
        piece = windows.piece(i)
        for bar in windows.piece_bars(i):
            header = tok.header_at(piece, int(bar))
            expected = np.concatenate([header, piece[bar:]])[:len(ids)]
            if len(expected) == len(ids) and np.array_equal(expected, ids):
                return i, int(bar), len(header)
    return None


def test_every_window_starts_at_a_bar_and_carries_its_header(prepared_corpus):
    windows = TokenWindows(prepared_corpus, "train", context_length=96, seed=3)
    tok = windows.tokenizer
    batch = windows.batch(step=0, batch_size=12)
    assert batch.shape == (12, 97) and batch.dtype == np.int64
    for row in batch:
        ids = _unpadded(row, tok.pad_id)
        found = _locate(windows, ids)
        assert found is not None, tok.names(ids[:20])
        piece, bar, header_len = found
        assert ids[0] == tok.bos_id and ids[header_len] == tok.bar_id
        kinds = tok.vocab.type_of[ids[:header_len]]
        assert {T.TIMESIG, T.TEMPO} <= set(kinds.tolist())
        assert tok.slot_programs(ids) == tok.slot_programs(windows.piece(piece))
        tok.validate(ids)
        # a window is only short where its piece ends
        assert len(ids) == 97 or ids[-1] == tok.eos_id


def test_batches_are_a_function_of_seed_step_and_rank(prepared_corpus):
    make = lambda seed: TokenWindows(prepared_corpus, context_length=64, seed=seed,  # noqa: E731
                                     transpose=(-5, 6), infill_fraction=0.3)
    a, b = make(0), make(0)
    assert np.array_equal(a.batch(7, 8), b.batch(7, 8))              # resuming at step 7
    assert not np.array_equal(a.batch(7, 8), a.batch(8, 8))
    assert not np.array_equal(a.batch(7, 8), make(1).batch(7, 8))
    ranks = [a.batch(7, 4, rank=r, world_size=2) for r in (0, 1)]
    assert not np.array_equal(*ranks)
    assert np.array_equal(np.concatenate(ranks), a.batch(7, 8, rank=0, world_size=1))
    with pytest.raises(DataError):
        a.batch(0, 4, rank=2, world_size=2)


def test_transposition_moves_pitched_tracks_and_leaves_drums(prepared_corpus):
    plain = TokenWindows(prepared_corpus, context_length=128, seed=5)
    up = TokenWindows(prepared_corpus, context_length=128, seed=5, transpose=(2, 2))
    tok = plain.tokenizer
    moved = 0
    for step in range(4):
        for before, after in zip(plain.batch(step, 8), up.batch(step, 8)):
            before, after = _unpadded(before, tok.pad_id), _unpadded(after, tok.pad_id)
            expected = tok.transpose(before, 2)
            if expected is None:  # would leave an instrument's range: kept as it was
                assert np.array_equal(after, before)
                continue
            assert np.array_equal(after, expected)
            moved += 1
            old, new = tok.decode(before), tok.decode(after)
            for t_old, t_new in zip(old.tracks, new.tracks):
                shift = 0 if t_old.is_drum or t_old.program == DRUMS else 2
                assert np.array_equal(t_new.notes["pitch"], t_old.notes["pitch"] + shift)
    assert moved > 0


def test_infilling_windows_are_valid_and_decode(prepared_corpus):
    windows = TokenWindows(prepared_corpus, context_length=256, seed=2, infill_fraction=1.0)
    tok = windows.tokenizer
    fills = {T.FILL_HOLE: 0, T.FILL_TRACK: 0}
    for step in range(3):
        for row in windows.batch(step, 8):
            ids = _unpadded(row, tok.pad_id)
            assert len(ids) <= 257
            kinds = set(tok.vocab.type_of[ids].tolist())
            for kind in fills:
                fills[kind] += kind in kinds
            if kinds & set(fills):
                assert T.FILL_START in kinds and T.FILL_END in kinds
            tok.validate(ids)
            assert tok.decode(ids).note_count() > 0
    assert fills[T.FILL_HOLE] > 0 and fills[T.FILL_TRACK] > 0


def test_evaluation_covers_every_piece_once(prepared_corpus):
    windows = TokenWindows(prepared_corpus, "val", context_length=64)
    tok = windows.tokenizer
    batches = list(windows.iter_eval(batch_size=4))
    assert batches and all(b.shape == (4, 65) for b in batches)
    assert all(np.array_equal(x, y) for x, y in zip(batches, windows.iter_eval(batch_size=4)))
    rows = [_unpadded(r, tok.pad_id) for b in batches for r in b]
    rows = [r for r in rows if len(r)]
    # piece by piece, each window starts at a bar the previous one reached (no gap), and
    # the windows, headers stripped, reach the end of every piece
    lengths = windows.index["length"]
    piece, covered = 0, 0
    for ids in rows:
        if covered == lengths[piece]:
            piece, covered = piece + 1, 0
        tokens = windows.piece(piece)
        starts = [int(b) for b in windows.piece_bars(piece) if b <= max(covered, 1)]
        matches = []
        for bar in starts or [int(windows.piece_bars(piece)[0])]:
            header = tok.header_at(tokens, bar)
            if np.array_equal(np.concatenate([header, tokens[bar:]])[:len(ids)], ids):
                matches.append(bar + len(ids) - len(header))
        assert matches, f"window {tok.names(ids[:12])} does not continue piece {piece}"
        covered = max(matches)
    assert piece == windows.num_pieces - 1 and covered == lengths[piece]


def test_a_missing_corpus_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="tunesmith prepare"):
        TokenWindows(tmp_path)


def test_packed_windows_are_whole_windows_back_to_back(prepared_corpus):
    """With pack=True the room after a piece's EOS holds further windows, each a valid
    header + bars of some piece (transposed or infilled as drawn); nothing is padding
    except a tail too short for another window; the first window is the unpacked one."""
    kwargs = dict(context_length=256, seed=4, transpose=(-2, 2), infill_fraction=0.3)
    plain = TokenWindows(prepared_corpus, "train", **kwargs)
    packed = TokenWindows(prepared_corpus, "train", pack=True, **kwargs)
    tok = packed.tokenizer
    fills = {False: [], True: []}
    segments = 0
    for step in range(3):
        for before, row in zip(plain.batch(step, 8), packed.batch(step, 8)):
            first = _unpadded(before, tok.pad_id)
            assert np.array_equal(row[:len(first)], first)
            starts = np.flatnonzero(row == tok.bos_id)
            assert starts[0] == 0
            for a, b in zip(starts, list(starts[1:]) + [len(row)]):
                part = _unpadded(row[a:b], tok.pad_id)
                tok.validate(part)  # whole, or cut only by the window's end
                if b < len(row):
                    assert part[-1] == tok.eos_id
                segments += 1
            fills[False].append(np.mean(before != tok.pad_id))
            fills[True].append(np.mean(row != tok.pad_id))
            assert (row != tok.pad_id).sum() > len(row) - 32  # only a short tail is left
    assert segments > 24  # some rows hold more than one window
    assert np.mean(fills[True]) > np.mean(fills[False])
    assert np.array_equal(packed.batch(5, 4), TokenWindows(prepared_corpus, pack=True, **kwargs).batch(5, 4))
