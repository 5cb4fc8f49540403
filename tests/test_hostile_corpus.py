"""Every file of the hostile real-world corpus through ``tunesmith inspect``: a report
(exit 0) or exactly one line ``tunesmith: error: PATH: reason`` (exit 2), never a
traceback, never slow."""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time

import pytest

from tunesmith.cli import main
from tunesmith.io import READABLE_SUFFIXES

from conftest import REAL_MIDI

CORPUS = sorted(p for p in REAL_MIDI.rglob("*") if p.suffix.lower() in READABLE_SUFFIXES)
SECONDS_PER_FILE = 5.0

# Files that cannot be read, and the reason the user is told.
UNREADABLE = {
    "jazz-soft__test-midi-files/test-empty-file.mid": "empty file (0 bytes)",
    "jazz-soft__test-midi-files/test-not-a-midi-file.mid": "not a MIDI file",
    "jazz-soft__test-midi-files/test-illegal-message-all.mid": "corrupt MIDI data",
    "nfroidure__midifile/MIDIBadHeaderChunk.mid": "not a MIDI file",
    "nfroidure__midifile/MIDIBadHeaderFormat.mid": "unknown MIDI format 3",
    "salu133445__muspy/zero-ticks-per-beat.mid": "time division is 0 ticks per quarter",
    "salu133445__muspy/negative-ticks-per-beat.mid": "invalid SMPTE time division",
}


def _inspect(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["inspect", *argv])
    return code, out.getvalue(), err.getvalue()


def test_the_corpus_is_all_there():
    assert len(CORPUS) == 85


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(REAL_MIDI)))
def test_every_file_gives_a_report_or_one_error_line(path):
    name = str(path.relative_to(REAL_MIDI))
    start = time.perf_counter()
    code, out, err = _inspect(str(path), "--json")
    assert time.perf_counter() - start < SECONDS_PER_FILE
    if name in UNREADABLE:
        assert code == 2 and out == ""
        assert err.count("\n") == 1
        assert err.startswith(f"tunesmith: error: {path}: {UNREADABLE[name]}")
    else:
        assert code == 0, err
        report = json.loads(out)
        assert report["pieces"] and all(p["ticks_per_quarter"] > 0 for p in report["pieces"])
        for piece in report["pieces"]:
            assert piece["notes"] == sum(t["notes"] for t in piece["tracks"])
            assert 0 <= piece["duration_seconds"] < 3600


def test_damaged_files_are_recovered_with_their_notes():
    for name, notes in [("ahlstromcj__midicvt/b4uacuse-seq24.midi", 7673),  # trailing garbage
                        ("jazz-soft__test-midi-files/test-corrupt-file-missing-byte.mid", 8),
                        ("Natooz__MidiTok/d6caebd1964d9e4a3c5ea59525230e2a.mid", 2852),
                        ("kovaxis__midly/Beethoven.rmi", 10423)]:
        code, out, _ = _inspect(str(REAL_MIDI / name), "--json")
        assert code == 0 and json.loads(out)["pieces"][0]["notes"] == notes, name


def test_text_report_names_tracks_and_lyrics():
    code, out, _ = _inspect(str(REAL_MIDI / "pedrolcl__dmidiplayer/Negra_Sombra.kar"))
    assert code == 0
    assert "track 0: Solo: program 73 (Flute), 199 notes, pitch E4-C5, 176 lyrics" in out
    assert "lyrics: 176 (Cando penso que" in out


def test_a_real_subprocess_on_a_broken_file_prints_one_line_and_exits_2():
    path = REAL_MIDI / "nfroidure__midifile/MIDIBadHeaderFormat.mid"
    result = subprocess.run([sys.executable, "-m", "tunesmith", "inspect", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr == (f"tunesmith: error: {path}: unknown MIDI format 3 "
                             "(formats are 0, 1 and 2)\n")
