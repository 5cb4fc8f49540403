"""The sampler honours every constraint by construction, over many seeds.

Drafts come from a tiny model trained for seconds (the `tiny_model` fixture): the music
is poor, which is the point: the constraints must hold whatever the model prefers.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tunesmith
from tunesmith.cli import main
from tunesmith.errors import RequestError
from tunesmith.model_folder import save_model_folder
from tunesmith.sample import GenerationRequest, generate
from tunesmith.score import MODE_INTERVALS, parse_key
from tunesmith.tokenizer import T

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def one_thread():
    """Small models sample fastest on one thread (and do not fight the other tests)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def bar_ticks(score):
    meter = score.meter_map()[0]
    return int(meter["numerator"]) * 4 * score.ticks_per_quarter // int(meter["denominator"])


def test_every_constraint_holds_over_many_seeds(tiny_model):
    model, tok = tiny_model
    request = GenerationRequest(bars=4, key="D dorian", time_signature="3/4", tempo=96,
                                programs=["flute", "acoustic bass"], pitch_range="C3-C6",
                                num_samples=12, seed=7)
    drafts = generate(model, tok, request)
    assert len(drafts) == 12
    tonic, mode = parse_key("D dorian")
    scale = {(tonic + i) % 12 for i in MODE_INTERVALS["dorian"]}
    for draft in drafts:
        tok.validate(draft.ids)
        score = draft.score
        assert len(tok.bar_offsets(draft.ids)) == 4
        assert [tuple(m) for m in score.meter_map()[["numerator", "denominator"]].tolist()] == [(3, 4)]
        assert len(score.tempos) == 1 and abs(score.tempos["qpm"][0] / 96 - 1) < 0.02
        assert score.key_signatures[["tonic", "mode"]].tolist() == [(tonic, mode)]
        assert [t.program for t in score.tracks] == [73, 32]
        assert score.end_tick() <= 4 * bar_ticks(score)  # nothing rings past the last bar
        for track in score.tracks:
            pitches = track.notes["pitch"]
            assert ((pitches >= 48) & (pitches <= 84)).all()
            assert set((pitches % 12).tolist()) <= scale


def test_chromatic_passing_notes_are_short(tiny_model):
    model, tok = tiny_model
    request = GenerationRequest(bars=4, key="C major", chromatic=True, programs=["piano"],
                                num_samples=8, seed=3, temperature=1.5, top_p=1.0)
    for draft in generate(model, tok, request):
        for track in draft.score.tracks:
            outside = ~np.isin(track.notes["pitch"] % 12, [0, 2, 4, 5, 7, 9, 11])
            assert (track.notes["duration"][outside] <= 240).all()  # an eighth at 480 tpq


def sounding_at_once(score) -> int:
    events = []
    for track in score.tracks:
        events += [(int(n["onset"]), 1) for n in track.notes]
        events += [(int(n["onset"] + n["duration"]), -1) for n in track.notes]
    count = most = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        count += delta
        most = max(most, count)
    return most


@pytest.mark.parametrize("program, polyphony, density", [
    ("piano", 2, (2, 6)),
    ("flute", 1, (8, 12)),    # a busy monophonic line: the minimum needs room planned ahead
    ("piano", 3, (10, 16)),
    ("piano", None, (12, 16)),
])
def test_polyphony_and_density_limits(tiny_model, program, polyphony, density):
    model, tok = tiny_model
    request = GenerationRequest(bars=4, programs=[program], max_polyphony=polyphony, notes_per_bar=density,
                                num_samples=12, seed=11, temperature=1.3, top_p=1.0)
    low, high = density
    for draft in generate(model, tok, request):
        score = draft.score
        if polyphony:
            assert sounding_at_once(score) <= polyphony
        tok.validate(draft.ids)
        bars = np.split(draft.ids, tok.bar_offsets(draft.ids)[1:])  # the model may change meter
        per_bar = np.array([(tok.vocab.type_of[bar] == T.PITCH).sum() for bar in bars])
        assert len(per_bar) == 4 and ((per_bar >= low) & (per_bar <= high)).all(), per_bar
        assert score.note_count() == per_bar.sum()


def test_same_seed_same_notes_and_seeds_differ(tiny_model):
    model, tok = tiny_model
    request = GenerationRequest(bars=3, num_samples=3, seed=5)
    first = generate(model, tok, request)
    again = generate(model, tok, request)
    assert [d.ids.tolist() for d in first] == [d.ids.tolist() for d in again]
    alone = generate(model, tok, GenerationRequest(bars=3, num_samples=1, seed=6))
    assert alone[0].ids.tolist() == first[1].ids.tolist()  # a draft depends on its seed only
    assert len({tuple(d.ids.tolist()) for d in first}) > 1


def note_rows(score, start=0, stop=None):
    rows = []
    for track in score.tracks:
        for n in track.notes:
            if n["onset"] >= start and (stop is None or n["onset"] < stop):
                rows.append((128 if track.is_drum else track.program, int(n["pitch"]), int(n["onset"]),
                             int(n["duration"])))
    return sorted(rows)


def test_continuation_keeps_the_prompt_exactly(tiny_model):
    model, tok = tiny_model
    prompt = tunesmith.read(DATA / "real-midi/magenta__note-seq/english1.mid")
    prompt_bars = len(tok.bar_offsets(tok.encode(prompt)))
    end = prompt.bar_starts()[-1] + bar_ticks(prompt)
    for draft in generate(model, tok, GenerationRequest(bars=2, num_samples=3, seed=1), prompt=prompt):
        assert len(tok.bar_offsets(draft.ids)) == prompt_bars + 2
        score = draft.score
        assert [t.name for t in score.tracks] == [t.name for t in prompt.tracks]
        np.testing.assert_array_equal(score.tempos, prompt.tempos)
        for before, after in zip(prompt.tracks, score.tracks):  # velocities too
            np.testing.assert_array_equal(after.notes[after.notes["onset"] < end], before.notes)
        assert all((t.notes["onset"] >= end).all() for t in draft.generated.tracks)


def test_bar_infilling_leaves_other_bars_identical(tiny_model):
    model, tok = tiny_model
    prompt = tunesmith.read(DATA / "bach_bwv66.6.mxl")
    original = tok.decode(tok.encode(prompt))
    starts = original.bar_starts()
    lo, hi = int(starts[2]), int(starts[4])  # bars 3-4, counted from 1
    for draft in generate(model, tok, GenerationRequest(infill_bars="3-4", prompt="x", num_samples=3, seed=2),
                          prompt=prompt):
        tok.validate(draft.ids)
        score = draft.score
        assert len(tok.bar_offsets(draft.ids)) == len(starts)
        assert note_rows(score, 0, lo) == note_rows(original, 0, lo)
        assert note_rows(score, hi) == note_rows(original, hi)
        inside = note_rows(score, lo, hi)
        assert all(r[2] + r[3] <= hi for r in inside)


def test_track_infilling_writes_a_new_part_and_keeps_the_others(tiny_model):
    model, tok = tiny_model
    prompt = tunesmith.read(DATA / "bach_bwv66.6.mxl")
    soprano_alto = tunesmith.Score(ticks_per_quarter=prompt.ticks_per_quarter, tracks=prompt.tracks[:2],
                                   tempos=prompt.tempos, time_signatures=prompt.time_signatures,
                                   key_signatures=prompt.key_signatures)
    original = tok.decode(tok.encode(soprano_alto))
    request = GenerationRequest(infill_program="acoustic bass", prompt="x", num_samples=3, seed=4,
                                pitch_range="E1-G3")
    for draft in generate(model, tok, request, prompt=soprano_alto):
        score = draft.score
        assert [t.program for t in score.tracks] == [t.program for t in original.tracks] + [32]
        for before, after in zip(original.tracks, score.tracks):
            assert note_rows(tunesmith.Score(tracks=[after])) == note_rows(tunesmith.Score(tracks=[before]))
        bass = score.tracks[-1].notes
        assert ((bass["pitch"] >= 28) & (bass["pitch"] <= 55)).all()
        assert score.end_tick() <= original.bar_starts()[-1] + bar_ticks(original)


def test_keep_returns_the_best_distinct_drafts(tiny_model):
    from tunesmith.sample.ranking import is_degenerate

    model, tok = tiny_model
    every = generate(model, tok, GenerationRequest(bars=4, num_samples=12, seed=0))
    drafts = generate(model, tok, GenerationRequest(bars=4, num_samples=12, keep=5, seed=0))
    assert len(drafts) == 5
    keys = [(is_degenerate(d.generated), -d.mean_log_likelihood) for d in drafts]
    assert keys == sorted(keys)  # varied drafts first, each group best first
    varied = [d for d in every if not is_degenerate(d.generated)]
    assert varied  # else this test checks nothing
    assert drafts[0].seed == max(varied, key=lambda d: d.mean_log_likelihood).seed


def test_loops_are_told_from_tunes_that_repeat_a_section():
    from tunesmith.sample.ranking import is_degenerate, repeated_bar_share
    from tunesmith.score import Score, Track, make_notes

    def tune(bar_pitches):  # one bar of four quarter notes per entry
        onsets = [b * 1920 + i * 480 for b in range(len(bar_pitches)) for i in range(4)]
        return Score(480, tracks=[Track("Flute", 73, notes=make_notes(
            onsets, [480] * len(onsets), [p for bar in bar_pitches for p in bar]))])

    a, b, c, d = [60, 62, 64, 65], [67, 65, 64, 62], [64, 65, 67, 69], [72, 71, 69, 67]
    aabb = tune([a, b, a, b, c, d, c, d])
    loop = tune([a, b] * 4)
    assert repeated_bar_share(aabb) == 0.5 and not is_degenerate(aabb)
    assert repeated_bar_share(loop) == 0.75 and is_degenerate(loop)
    assert is_degenerate(tune([[60, 60, 62, 60]] * 1 + [[62, 60, 60, 62]]))  # two pitches


@pytest.mark.parametrize("request_kwargs, message", [
    (dict(key="H lydian"), "unknown key"),
    (dict(bars=0), "bars must be"),
    (dict(pitch_range="C4-B3"), "empty"),
    (dict(key="C major", pitch_range="C#4-C#4"), "holds no note"),
    (dict(time_signature="3/5"), "not a meter"),
    (dict(programs=["kazoo-o-phone"]), "unknown instrument"),
    (dict(time_signature="1/8", notes_per_bar=(8, 10)), "do not fit in a bar of 1/8"),
    (dict(lyrics="la la", programs=["flute", "cello"]), "one part"),
    (dict(lyrics="la la", programs=["drums"]), "not drums"),
    (dict(programs=["acoustic bass"], pitch_range="C6-C7"), "outside what the instrument can play"),
    (dict(lyrics=" - "), "no syllable"),
    (dict(lyrics="la", max_polyphony=3), "one note per syllable"),
])
def test_bad_requests_are_refused_before_sampling(tiny_model, request_kwargs, message):
    model, tok = tiny_model
    with pytest.raises(RequestError, match=message):
        generate(model, tok, GenerationRequest(**request_kwargs))


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory):
    model, tok = tiny_model
    folder = tmp_path_factory.mktemp("models") / "tiny"
    save_model_folder(folder, model, tok, card={"note": "tiny test model"})
    return folder


def test_cli_writes_drafts_with_their_request_and_reads_back(model_dir, tmp_path, capsys):
    out = tmp_path / "drafts"
    code = main(["generate", "--model", str(model_dir), "--bars", "4", "--key", "G mixolydian",
                 "--time-signature", "6/8", "--tempo", "120", "--program", "violin", "--range", "G3-E6",
                 "--num-samples", "4", "--keep", "2", "--seed", "40", "--format", "mid,musicxml",
                 "--out", str(out), "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    for line in lines:
        midi = next(Path(f) for f in line["files"] if f.endswith(".mid"))
        score = tunesmith.read(midi)
        assert [t.program for t in score.tracks if len(t.notes)] == [40]
        pitches = np.concatenate([t.notes["pitch"] for t in score.tracks])
        assert pitches.min() >= 55 and pitches.max() <= 88
        assert set((pitches % 12).tolist()) <= {7, 9, 11, 0, 2, 4, 5}
        assert [tuple(m) for m in score.meter_map()[["numerator", "denominator"]].tolist()] == [(6, 8)]
        record = json.loads(midi.with_suffix(".json").read_text())
        assert record["request"]["seed"] == line["seed"] and record["weights_sha256"]
        assert b'"weights_sha256"' in midi.read_bytes()  # provenance travels in the files
        assert "weights_sha256" in midi.with_suffix(".musicxml").read_text()
    # the same command again refuses to overwrite
    code = main(["generate", "--model", str(model_dir), "--bars", "4", "--num-samples", "4",
                 "--seed", "40", "--out", str(out)])
    assert code == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--key", "Q minor"], "unknown key"),
    (["--bars", "0"], "bars must be"),
    (["--prompt", "tests/data/real-midi/jazz-soft__test-midi-files/test-empty-file.mid"], "empty file"),
    (["--range", "C4-C4", "--key", "D major"], "holds no note"),
])
def test_cli_errors_are_one_line_with_exit_code_2(model_dir, tmp_path, argv, message):
    result = subprocess.run([sys.executable, "-m", "tunesmith", "generate", "--model", str(model_dir),
                             "--out", str(tmp_path), *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("tunesmith: error:")
    assert message in result.stderr


def test_a_draft_that_copies_training_music_is_flagged_or_dropped(model_dir, prepared_corpus, tmp_path, capsys):
    """Index a draft as if it were training music: the same seed again copies it, is
    reported with the piece's name and dropped with --original-only. A prompt taken from
    the training music is not held against the draft: only new material is checked."""
    from tunesmith.evaluate.originality import build_index_from_corpus, build_index_from_files
    from tunesmith.evaluate.sets import prepared_pieces

    common = ["generate", "--model", str(model_dir), "--bars", "8", "--seed", "3", "--json",
              "--max-copied-bars", "2", "--program", "flute"]
    assert main(common + ["--out", str(tmp_path / "first")]) == 0
    build_index_from_files(tmp_path / "first").save(tmp_path / "index.npz")
    with_index = common + ["--originality-index", str(tmp_path / "index.npz")]
    assert main(with_index + ["--out", str(tmp_path / "kept")]) == 0
    captured = capsys.readouterr()
    assert "shares" in captured.err and "draft-s3.mid" in captured.err
    record = json.loads((tmp_path / "kept" / "draft-s3.json").read_text())
    assert record["originality"]["piece"].endswith("draft-s3.mid") and record["originality"]["longest_bars"] > 2
    assert main(with_index + ["--out", str(tmp_path / "dropped"), "--original-only"]) == 0
    assert not list((tmp_path / "dropped").glob("draft-*"))

    build_index_from_corpus(prepared_corpus).save(tmp_path / "corpus.npz")
    name, score, _ = next((n, s, r) for n, s, r in prepared_pieces(prepared_corpus, "train")
                          if len(s.tracks) == 1 and len(s.bar_starts()) >= 8)
    tunesmith.write(score, tmp_path / "prompt.mid")
    capsys.readouterr()
    assert main(["generate", "--model", str(model_dir), "--prompt", str(tmp_path / "prompt.mid"), "--bars", "1",
                 "--originality-index", str(tmp_path / "corpus.npz"), "--max-copied-bars", "2",
                 "--out", str(tmp_path / "continued")]) == 0
    assert name not in capsys.readouterr().err
    record = json.loads((tmp_path / "continued" / "draft-s0.json").read_text())
    assert record["training_corpus"].endswith("/train")


def test_free_length_drafts_end_on_their_own_within_the_cap(tiny_model):
    from tunesmith.sample.request import FREE_MAX_BARS

    model, tok = tiny_model
    for draft in generate(model, tok, GenerationRequest(bars=None, num_samples=4, seed=9)):
        tok.validate(draft.ids)
        assert draft.ids[-1] == tok.eos_id
        assert 1 <= len(tok.bar_offsets(draft.ids)) <= FREE_MAX_BARS


def test_the_last_bar_ends_the_piece_instead_of_filling_with_a_cluster(tiny_model):
    """Once the bars asked are written, the model's wish for another bar becomes the end
    of the piece, and no part strikes a pitch twice at one onset."""
    model, tok = tiny_model
    for draft in generate(model, tok, GenerationRequest(bars=1, num_samples=8, seed=21, top_p=1.0)):
        for track in draft.score.tracks:
            keys = list(zip(track.notes["onset"].tolist(), track.notes["pitch"].tolist()))
            assert len(keys) == len(set(keys))


def test_every_instrument_stays_within_what_it_can_play(tiny_model):
    from tunesmith.gm import playable_range

    model, tok = tiny_model
    request = GenerationRequest(bars=4, programs=["acoustic bass", "piccolo"], num_samples=6, seed=13,
                                temperature=1.5, top_p=1.0)
    for draft in generate(model, tok, request):
        for track in draft.score.tracks:
            low, high = playable_range(track.program)
            assert ((track.notes["pitch"] >= low) & (track.notes["pitch"] <= high)).all(), track


def test_new_drafts_start_on_the_downbeat_unless_a_pickup_is_allowed(tiny_model):
    model, tok = tiny_model
    first_onsets = {}
    for pickup in (False, True):
        drafts = generate(model, tok, GenerationRequest(bars=3, num_samples=16, seed=5, pickup=pickup,
                                                        temperature=1.3, top_p=1.0))
        first_onsets[pickup] = [min(int(t.notes["onset"].min()) for t in d.score.tracks if len(t.notes))
                                for d in drafts]
        for draft in drafts:
            assert len(tok.bar_offsets(draft.ids)) == 3
    assert first_onsets[False] == [0] * 16
    assert any(onset > 0 for onset in first_onsets[True])  # the model likes pickups: they stay possible


LYRICS = "Twin-kle twin-kle lit-tle star, how I won-der what you are. Up a-bove the world so high!"


def test_lyrics_get_one_note_each_in_one_singing_part(tiny_model):
    from tunesmith.sample.request import split_syllables
    from tunesmith.score import lyrics_text

    model, tok = tiny_model
    syllables = split_syllables(LYRICS)
    request = GenerationRequest(lyrics=LYRICS, key="G major", num_samples=10, seed=3, temperature=1.2)
    for draft in generate(model, tok, request):
        tok.validate(draft.ids)
        score = draft.score
        assert [t.program for t in score.tracks] == [73]
        notes = np.sort(score.tracks[0].notes, order="onset")
        assert len(notes) == len(syllables)
        assert sounding_at_once(score) == 1
        lyrics = score.tracks[0].lyrics
        assert [lyric.text for lyric in lyrics] == syllables
        assert [lyric.tick for lyric in lyrics] == notes["onset"].tolist()
        assert lyrics_text(lyrics) == "Twinkle twinkle little star, how I wonder what you are. Up above the world so high!"
        quarter = score.ticks_per_quarter
        bar_starts = score.bar_starts()
        last_meter = score.meter_map()[-1]
        last_barline = bar_starts[-1] + int(last_meter["numerator"]) * 4 * quarter // int(last_meter["denominator"])
        for note, text in zip(notes, syllables):
            if text[-1] in ",.!":  # a phrase ends: held a quarter, or to its barline
                barline = next((b for b in bar_starts if b > note["onset"]), last_barline)
                assert note["duration"] >= min(quarter, barline - note["onset"])
        # the piece ends in the bar of the last syllable
        assert notes[-1]["onset"] >= bar_starts[-1]
        changes = np.flatnonzero(np.diff(np.r_[-1, notes["pitch"], -1]) != 0)
        assert np.diff(changes).max() <= 4  # at most four syllables in a row on one pitch


def test_cli_lyrics_land_under_their_notes_in_midi_and_musicxml(model_dir, tmp_path):
    import music21

    from tunesmith.score import lyrics_text

    out = tmp_path / "song"
    code = main(["generate", "--model", str(model_dir), "--lyrics", LYRICS, "--program", "oboe",
                 "--seed", "2", "--format", "mid,musicxml", "--out", str(out)])
    assert code == 0
    score = tunesmith.read(out / "draft-s2.mid")
    singer = next(t for t in score.tracks if t.lyrics)
    assert singer.program == 68 and len(singer.notes) == len(singer.lyrics) == 21  # syllables
    assert lyrics_text(singer.lyrics).startswith("Twinkle twinkle little star,")
    assert sorted(lyric.tick for lyric in singer.lyrics) == sorted(singer.notes["onset"].tolist())
    part = music21.converter.parse(out / "draft-s2.musicxml").parts[0]
    sung = [(n.lyrics[0].text, n.lyrics[0].syllabic) for n in part.flatten().notes if n.lyrics]
    assert sung[:3] == [("Twin", "begin"), ("kle", "end"), ("twin", "begin")]


@pytest.mark.parametrize("programs, extra", [
    (["violin", "cello"], {}),
    (["piano", "acoustic bass"], dict(notes_per_bar=(4, 6), max_polyphony=2)),
    (["piano", "acoustic bass", "flute"], dict(max_polyphony=2, time_signature="7/8")),
])
def test_every_part_asked_for_plays_in_every_bar(tiny_model, programs, extra):
    model, tok = tiny_model
    request = GenerationRequest(bars=4, programs=programs, num_samples=8, seed=6, temperature=1.2, **extra)
    for draft in generate(model, tok, request):
        for bar in np.split(draft.ids, tok.bar_offsets(draft.ids)[1:]):
            slot, playing = 0, set()
            for kind, value in zip(tok.vocab.type_of[bar], tok.vocab.value_of[bar]):
                slot = 0 if kind == T.BAR else value if kind == T.TRACK else slot
                if kind == T.PITCH:
                    playing.add(int(slot))
            assert playing == set(range(len(programs))), tok.names(bar)


def test_pieces_longer_than_the_context_are_drafted_window_by_window(tiny_model):
    from tunesmith.sample.sampler import bars_that_fit

    model, tok = tiny_model  # context 1024 tokens
    request = GenerationRequest(bars=100, key="A minor", programs=["flute", "cello"], seed=8)
    assert request.bars > bars_that_fit(request, model.config.context_length)
    drafts = generate(model, tok, request)
    scale = {9, 11, 0, 2, 4, 5, 7, 6, 8}  # A minor: the raised 6th and 7th allowed
    for draft in drafts:
        tok.validate(draft.ids)
        assert len(tok.bar_offsets(draft.ids)) == 100 and draft.ids[-1] == tok.eos_id
        assert [t.program for t in draft.score.tracks] == [73, 42]
        for track in draft.score.tracks:
            assert set((track.notes["pitch"] % 12).tolist()) <= scale
        starts = draft.score.bar_starts()
        assert len(starts) == 100  # notes to the last bar: no thinning out
    again = generate(model, tok, request)
    assert [d.ids.tolist() for d in again] == [d.ids.tolist() for d in drafts]


def test_free_length_pieces_end_at_a_barline_not_at_the_token_cap(tiny_model):
    model, tok = tiny_model
    for draft in generate(model, tok, GenerationRequest(bars=None, num_samples=6, seed=8)):
        assert draft.ids[-1] == tok.eos_id  # ended by the model or closed in time, never cut
