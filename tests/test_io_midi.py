"""MIDI reading and writing on real files: notes, programs, drums, tempos, meters, keys,
lyrics, compared note by note against the file and against an independent parser."""
from __future__ import annotations

import struct

import mido
import numpy as np
import pytest

from tunesmith.errors import ReadError, WriteError
from tunesmith.io import read, write
from tunesmith.io.midi import read_midi
from tunesmith.score import (KEY_DTYPE, MODES, TEMPO_DTYPE, TIME_SIGNATURE_DTYPE, Lyric, Score,
                             Track, lyrics_text, make_notes, parse_key, sort_notes)

from conftest import REAL_MIDI

ROUND_TRIP_FILES = [
    "pedrolcl__dmidiplayer/mozart_diesirae.mid",   # 12 tracks, lyrics, key changes
    "craffel__pretty-midi/example.mid",            # drums, 420 tempos, 12 meters
    "cuthbertLab__music21/test21.mid",             # EUC-KR lyrics
    "kovaxis__midly/CrabRave.mid",                 # overlapping same-pitch notes, drums
    "salu133445__muspy/key-signatures.mid",        # all 30 keys
    "Yikai-Liao__symusic/1.midi",                  # 132 tempos, 79 markers
]


def _mido_notes(path) -> dict[int, list]:
    """Notes per MIDI channel as (onset tick, pitch), parsed by mido, an independent reader."""
    notes: dict[int, list] = {}
    for track in mido.MidiFile(path).tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                notes.setdefault(msg.channel, []).append((tick, msg.note))
    return {ch: sorted(v) for ch, v in notes.items()}


def _assert_same(a: Score, b: Score) -> None:
    assert a.ticks_per_quarter == b.ticks_per_quarter
    assert [(t.name, t.program, t.is_drum) for t in a.tracks] == \
        [(t.name, t.program, t.is_drum) for t in b.tracks]
    for ta, tb in zip(a.tracks, b.tracks):
        np.testing.assert_array_equal(sort_notes(ta.notes), sort_notes(tb.notes))
        assert [(x.tick, x.text) for x in ta.lyrics] == [(x.tick, x.text) for x in tb.lyrics]
    np.testing.assert_array_equal(a.tempos["tick"], b.tempos["tick"])
    np.testing.assert_allclose(a.tempos["qpm"], b.tempos["qpm"], rtol=1e-6)
    np.testing.assert_array_equal(a.time_signatures, b.time_signatures)
    np.testing.assert_array_equal(a.key_signatures, b.key_signatures)
    assert [(m.tick, m.text) for m in a.markers] == [(m.tick, m.text) for m in b.markers]


@pytest.mark.parametrize("name", ROUND_TRIP_FILES)
def test_write_then_read_gives_back_every_note_and_event(name, tmp_path):
    original = read_midi(REAL_MIDI / name)
    write(original, tmp_path / "out.mid")
    _assert_same(original, read_midi(tmp_path / "out.mid"))


def test_notes_match_an_independent_parser():
    path = REAL_MIDI / "pedrolcl__dmidiplayer/mozart_diesirae.mid"
    ours = sorted((int(n["onset"]), int(n["pitch"])) for t in read_midi(path).tracks
                  for n in t.notes)
    theirs = sorted(x for notes in _mido_notes(path).values() for x in notes)
    assert ours == theirs


def test_what_we_write_reads_back_in_mido_with_drums_on_channel_10(tmp_path):
    score = Score(ticks_per_quarter=480,
                  tempos=np.array([(0, 90.0), (1920, 140.0)], dtype=TEMPO_DTYPE),
                  time_signatures=np.array([(0, 3, 4)], dtype=TIME_SIGNATURE_DTYPE),
                  key_signatures=np.array([(0, *parse_key("E minor"))], dtype=KEY_DTYPE))
    score.tracks = [
        Track("Flute", program=73, notes=make_notes([0, 480], [480, 480], [74, 76]),
              lyrics=[Lyric(0, "Ah"), Lyric(480, "men")]),
        Track("Kit", is_drum=True, notes=make_notes([0, 240], [120, 120], [36, 38]))]
    write(score, tmp_path / "x.mid")
    midi = mido.MidiFile(tmp_path / "x.mid", charset="utf-8")
    assert _mido_notes(tmp_path / "x.mid") == {0: [(0, 74), (480, 76)], 9: [(0, 36), (240, 38)]}
    metas = {msg.type: msg for track in midi.tracks for msg in track if msg.is_meta}
    assert metas["key_signature"].key == "Em"
    assert (metas["time_signature"].numerator, metas["time_signature"].denominator) == (3, 4)
    programs = [msg.program for t in midi.tracks for msg in t if msg.type == "program_change"]
    assert 73 in programs
    lyrics = [(m.text) for t in midi.tracks for m in t if m.type == "lyrics"]
    assert lyrics == ["Ah", "men"]
    _assert_same(score, read_midi(tmp_path / "x.mid"))


def test_modal_key_is_written_as_its_signature(tmp_path):
    score = Score(key_signatures=np.array([(0, *parse_key("D dorian"))], dtype=KEY_DTYPE),
                  tracks=[Track(notes=make_notes([0], [480], [62]))])
    write(score, tmp_path / "x.mid")
    assert read_midi(tmp_path / "x.mid").key_signatures.tolist() == [(0, 0, MODES.index("major"))]


def test_writing_never_overwrites_silently(tmp_path):
    target = tmp_path / "x.mid"
    target.write_bytes(b"precious")
    with pytest.raises(WriteError, match="already exists"):
        write(Score(), target)
    assert target.read_bytes() == b"precious"
    write(Score(tracks=[Track(notes=make_notes([0], [1], [60]))]), target, overwrite=True)
    assert read_midi(target).note_count() == 1


def test_karaoke_words_become_lyrics_on_the_melody():
    score = read(REAL_MIDI / "pedrolcl__dmidiplayer/Negra_Sombra.kar")
    assert score.note_count() == 788
    assert score.metadata["title"] == "Negra Sombra"
    singer = [t for t in score.tracks if t.lyrics]
    assert [t.name for t in singer] == ["Solo"]
    # karaoke marks words with spaces (" Can" "do"); lyrics join syllables with "-"
    assert [lyric.text for lyric in singer[0].lyrics[:4]] == ["Can-", "do", "pen-", "so"]
    assert lyrics_text(singer[0].lyrics).startswith("Cando penso que te fuches, negra sombra que")
    onsets = set(singer[0].notes["onset"].tolist())
    assert sum(lyric.tick in onsets for lyric in singer[0].lyrics) > 0.9 * len(singer[0].lyrics)


def test_karaoke_conventions_in_a_mid_file():
    score = read(REAL_MIDI / "jazz-soft__test-midi-files/test-karaoke-kar.mid")
    words = lyrics_text([lyric for _, lyric in score.all_lyrics()])
    assert words.startswith("Mary was a little lame, Little lame,")
    assert score.metadata["title"] == "Mary Was A Little Lame"


def test_rmi_riff_wrapper_is_unwrapped():
    score = read(REAL_MIDI / "kovaxis__midly/Beethoven.rmi")
    assert score.ticks_per_quarter == 240 and score.note_count() == 10423


@pytest.mark.parametrize("name, first", [("cuthbertLab__music21/test18.mid", "明山涌水"),
                                         ("cuthbertLab__music21/test21.mid", "빛날세")])
def test_lyrics_in_utf8_and_euc_kr_decode(name, first):
    lyrics = [lyric.text for _, lyric in read(REAL_MIDI / name).all_lyrics()]
    assert len(lyrics) == 34
    assert "".join(lyrics).startswith(first[:3])


def test_zero_length_notes_last_one_tick_and_unreleased_notes_are_dropped():
    score = read(REAL_MIDI / "cuthbertLab__music21/test16.mid")
    assert score.note_count() == 3 and score.tracks[0].notes["duration"].min() == 1
    missing = read(REAL_MIDI / "transcriptaze__midiasm/notes-with-missing-note-offs.mid")
    assert missing.note_count() == 6  # 7 note-ons, one never released
    assert missing.end_tick() <= 4 * missing.ticks_per_quarter * 4


def test_format_2_songs_play_one_after_the_other():
    score = read(REAL_MIDI / "jazz-soft__test-midi-files/test-2-tracks-type-2.mid")
    first, second = score.tracks
    assert first.notes["onset"].max() < second.notes["onset"].min()


def test_smpte_division_is_read_in_seconds(tmp_path):
    track = b"\x00\x90\x3c\x40" + b"\x81\x64\x80\x3c\x00" + b"\x00\xff\x2f\x00"  # 228 ticks
    data = b"MThd" + struct.pack(">IHHh", 6, 0, 1, (-25 << 8) | 40) + \
        b"MTrk" + struct.pack(">I", len(track)) + track
    (tmp_path / "smpte.mid").write_bytes(data)
    score = read(tmp_path / "smpte.mid")
    assert score.ticks_per_quarter == 1000  # 25 fps x 40 ticks per frame, per second
    assert score.duration_seconds() == pytest.approx(0.228)
    assert "SMPTE" in score.metadata["recovered"]


def test_a_bad_track_is_cut_at_its_damage_and_the_rest_kept(tmp_path):
    good = read_midi(REAL_MIDI / "jazz-soft__test-midi-files/test-c-major-scale.mid")
    write(good, tmp_path / "good.mid")
    data = (tmp_path / "good.mid").read_bytes()
    bad = REAL_MIDI.joinpath("jazz-soft__test-midi-files/test-illegal-message-all.mid").read_bytes()
    start = bad.index(b"MTrk")
    data = data[:10] + struct.pack(">H", 2) + data[12:] + bad[start:]
    (tmp_path / "mixed.mid").write_bytes(data)
    score = read(tmp_path / "mixed.mid")
    assert score.note_count() == 8
    # an undefined status byte (F4) claims 255 bytes: symusic would refuse the track there
    assert "track 2 cut at byte 174 of 276" in score.metadata["recovered"]


@pytest.mark.parametrize("name, reason", [
    ("jazz-soft__test-midi-files/test-empty-file.mid", "empty file"),
    ("nfroidure__midifile/MIDIBadHeaderChunk.mid", "not a MIDI file"),
    ("nfroidure__midifile/MIDIBadHeaderFormat.mid", "unknown MIDI format 3"),
    ("salu133445__muspy/zero-ticks-per-beat.mid", "0 ticks per quarter"),
    ("salu133445__muspy/negative-ticks-per-beat.mid", "invalid SMPTE"),
])
def test_unreadable_files_raise_read_error_with_the_reason(name, reason):
    with pytest.raises(ReadError, match=reason) as info:
        read(REAL_MIDI / name)
    assert info.value.path.endswith(name)


def test_corrupt_times_and_meters_are_cut_at_16384_bars(tmp_path):
    """A 1/128 meter (bars of 3 ticks at 96 per quarter) and a note 2,000,000 bars in:
    nothing after bar 16,384 is read, so no command counts or tokenizes millions of bars."""
    track = (b"\x00\xff\x58\x04\x01\x07\x18\x08" + b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
             + b"\x82\xee\xd1\x60\x90\x3e\x40\x60\x80\x3e\x00")  # delta 6,000,000 ticks
    path = tmp_path / "tiny-bars.mid"
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk"
                     + struct.pack(">I", len(track)) + track)
    score = read(path)
    assert score.note_count() == 1 and len(score.bar_starts()) <= 2**14
    assert "1 notes after it dropped" in score.metadata["recovered"]
