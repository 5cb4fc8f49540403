"""No input crashes ``tunesmith inspect`` or ``tunesmith tokenize``.

Every music file of tests/data (and of ../shared/corpus/real-midi where that folder
exists), then damaged copies of every MIDI file among them (truncations at many offsets,
random bytes over a track, absurd lengths, track counts and delta times, dangerous status
bytes, bit flips, kilobytes of garbage in place of tracks) and of the MusicXML files,
each through both commands in a child process: exit code 0 or 2 only, one
``tunesmith: error:`` line with 2, never a traceback, a signal or a hang.

The damage is a pure function of each file's bytes and name, so a failure reproduces.
``TUNESMITH_FUZZ_VARIANTS=N`` adds N copies of every kind per file for a long session.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest

from tunesmith.io import MIDI_SUFFIXES, READABLE_SUFFIXES

from conftest import DATA

SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real-midi"
SECONDS_PER_RUN = 60
"""A child still running after this is killed and counted as a failure (a hang)."""
KINDS_PER_FILE = 4
"""Damaged copies per file, each of a kind drawn from the 11 (all kinds across the files)."""
EXTRA_VARIANTS = int(os.environ.get("TUNESMITH_FUZZ_VARIANTS", "0"))

# The child processes are forked from one driver that has imported tunesmith (and
# music21) once, so each run costs milliseconds, not a fresh interpreter.
DRIVER = r"""
import json, os, signal, sys, tempfile, traceback
import tunesmith.cli, tunesmith.cli.inspect, tunesmith.cli.tokenize, tunesmith.io.midi
import tunesmith.tokenizer
try:
    import tunesmith.io.music21_read
except Exception:
    pass
from tunesmith.cli import main

jobs, limit, parallel = json.load(sys.stdin), int(sys.argv[1]), int(sys.argv[2])
running, queue = {}, list(enumerate(jobs))

def start(index, argv):
    err = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(err.fileno(), 2)
        signal.alarm(limit)
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    running[pid] = (index, argv, err)

while queue or running:
    while queue and len(running) < parallel:
        start(*queue.pop(0))
    pid, status = os.wait()
    index, argv, err = running.pop(pid)
    err.seek(0)
    stderr = err.read().decode("utf-8", "replace")
    err.close()
    outcome = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else os.WEXITSTATUS(status))
    print(json.dumps({"index": index, "argv": argv, "outcome": outcome, "stderr": stderr[-2000:]}),
          flush=True)
"""


def music_files() -> list[Path]:
    """Every readable file of tests/data and the shared corpus, each content once."""
    seen, files = set(), []
    for root in (DATA, SHARED_CORPUS):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix.lower() in READABLE_SUFFIXES:
                digest = hashlib.sha1(path.read_bytes()).digest()
                if digest not in seen:
                    seen.add(digest)
                    files.append(path)
    return files


def _chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, declared length) of each chunk after the header, trusting nothing."""
    chunks, pos = [], 8 + struct.unpack_from(">I", data, 4)[0] if len(data) >= 8 else len(data)
    while 0 <= pos and pos + 8 <= len(data):
        length = struct.unpack_from(">I", data, pos + 4)[0]
        chunks.append((pos, length))
        pos += 8 + length
    return chunks


def damaged(data: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """One copy of ``data`` for each kind of damage, chosen by ``rng``."""
    chunks = [(p, n) for p, n in _chunks(data) if p + 8 < len(data)] or [(0, len(data) - 8)]
    track, length = rng.choice(chunks)
    body = track + 8
    inside = body + rng.randrange(max(1, min(length, len(data) - body)))
    out = []

    def put(name: str, at: int, new: bytes, replace: int | None = None) -> None:
        replace = len(new) if replace is None else replace
        out.append((name, data[:at] + new + data[at + replace:]))

    cut = rng.choice([rng.randrange(len(data)), inside, inside + 1, len(data) - 1, 14, 22])
    out.append((f"truncated-at-{cut}", data[:cut]))
    out.append(("truncated-mid-track-more-declared",
                data[:10] + struct.pack(">H", len(chunks) + rng.randrange(1, 300))
                + data[12:inside]))
    put("random-bytes-over-a-track", inside,
        bytes(rng.randrange(256) for _ in range(rng.randrange(8, 200))))
    put("absurd-track-length", track + 4, struct.pack(">I", rng.choice(
        [0, 1, length + 1, max(length - 1, 0), 2**31, 2**32 - 1, rng.randrange(2**32)])))
    put("absurd-track-count", 10, struct.pack(">H", rng.choice([0, 1, 255, 65535])))
    put("absurd-header-length", 4, struct.pack(">I", rng.choice([0, 5, 7, 2**31])))
    out.append(("garbage-for-tracks", data[:body]
                + bytes(rng.randrange(256) for _ in range(rng.randrange(500, 5000)))))
    put("huge-delta-times", inside, b"\xff\xff\xff\x7f\xff\x01\x00" * rng.randrange(1, 20), 0)
    put("dangerous-status", inside, bytes([rng.choice([0x8F, 0x9F, 0xCF, 0xEF, 0xF0, 0xF4,
                                                       0xF7, 0xFF]),
                                           rng.randrange(128, 256), rng.randrange(256)]))
    put("absurd-meta-length", inside, b"\x00\xff\x01" + rng.choice(
        [b"\x8f\xff\xff\x7f", b"\xff\xff\xff\xff", b"\x81\x00"]), 0)
    flipped = bytearray(data)
    for _ in range(rng.randrange(1, 16)):
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
    out.append(("bit-flips", bytes(flipped)))
    return out


def damaged_files(tmp: Path) -> list[Path]:
    """Damaged copies of every MIDI file, written under ``tmp``."""
    paths = []
    for source in music_files():
        if source.suffix.lower() in (".mxl", ".xml", ".musicxml"):
            paths += _damaged_musicxml(source, tmp)
        if source.suffix.lower() not in MIDI_SUFFIXES or source.suffix.lower() == ".rmi":
            continue
        data = source.read_bytes()
        if len(data) < 23:
            continue
        rng = random.Random(zlib.crc32(source.name.encode()) ^ len(data))
        variants = rng.sample(damaged(data, rng), KINDS_PER_FILE)
        for _ in range(EXTRA_VARIANTS):
            variants += [(f"{name}-{len(variants)}", v) for name, v in damaged(data, rng)]
        for i, (name, variant) in enumerate(variants):
            tag = f"{source.stem[:40]}-{zlib.crc32(bytes(source)):08x}"  # stems repeat
            path = tmp / f"{tag}-{i:03d}-{name}.mid"
            path.write_bytes(variant)
            paths.append(path)
    return paths


def _damaged_musicxml(source: Path, tmp: Path) -> list[Path]:
    """A truncated copy and one with random bytes in the middle (for an .mxl: inside the
    compressed stream, which once escaped the reader as a zlib.error traceback)."""
    data = source.read_bytes()
    rng = random.Random(zlib.crc32(source.name.encode()) ^ len(data))
    middle = rng.randrange(len(data) // 4, len(data) * 3 // 4)
    tag = f"{source.stem[:40]}-{zlib.crc32(bytes(source)):08x}"
    out = []
    for name, variant in [("truncated", data[:middle]),
                          ("garbage", data[:middle] + bytes(rng.randrange(256) for _ in range(32))
                           + data[middle + 32:])]:
        out.append(tmp / f"{tag}-{name}{source.suffix}")
        out[-1].write_bytes(variant)
    return out


def run_all(paths: list[Path]) -> list[dict]:
    """Each file through ``inspect --json`` and ``tokenize --json`` in forked children."""
    jobs = [[command, str(path), "--json"] for path in paths for command in ("inspect", "tokenize")]
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(SECONDS_PER_RUN), "2"],
                          input=json.dumps(jobs), capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted((json.loads(line) for line in proc.stdout.splitlines()),
                     key=lambda r: r["index"])
    assert len(results) == len(jobs)
    return results


def failures(results: list[dict]) -> list[str]:
    """Runs that did not end with exit 0, or with exit 2 and exactly one error line."""
    bad = []
    for r in results:
        err, outcome = r["stderr"], r["outcome"]
        if outcome == 2 and err.count("\n") == 1 and err.startswith("tunesmith: error: "):
            continue
        if outcome == 0 and "Traceback" not in err:
            continue
        bad.append(f"{' '.join(r['argv'])}: {outcome}: {err.strip()[-500:]}")
    return bad


def test_every_file_and_its_damaged_copies_give_a_result_or_one_error_line(tmp_path):
    intact = music_files()
    broken = damaged_files(tmp_path)
    assert len(intact) >= 90 and len(broken) >= KINDS_PER_FILE * 75
    results = run_all(intact + broken)
    outcomes = Counter(str(r["outcome"]) for r in results)
    print(f"\nfuzz: {len(intact)} files, {len(broken)} damaged copies, "
          f"{len(results)} runs, outcomes {dict(outcomes)}")
    assert failures(results) == []
    # the damage is real: many copies are refused, and many are read (recovered)
    damaged_outcomes = Counter(r["outcome"] for r in results[2 * len(intact):])
    assert damaged_outcomes[0] > len(broken) // 4 and damaged_outcomes[2] > len(broken) // 4


CRASHERS = sorted((DATA / "damaged").glob("*.mid"))


def test_the_damaged_fixtures_crash_symusic_parsing_them_raw():
    """Why the reader checks bytes first: the parser itself dies on these files."""
    assert len(CRASHERS) == 4
    for path in CRASHERS:
        proc = subprocess.run([sys.executable, "-c", "import symusic, sys; "
                               "symusic.Score.from_midi(open(sys.argv[1], 'rb').read())",
                               str(path)], capture_output=True, timeout=120)
        assert proc.returncode < 0, path.name  # killed by a signal


@pytest.mark.parametrize("path", CRASHERS, ids=lambda p: p.name)
def test_the_tunesmith_command_reads_or_refuses_files_that_crash_symusic(path):
    for command in ("inspect", "tokenize"):
        proc = subprocess.run([sys.executable, "-m", "tunesmith", command, str(path)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode in (0, 2), proc.stderr
        assert "Traceback" not in proc.stderr
        if proc.returncode == 2:
            assert proc.stderr.count("\n") == 1
            assert proc.stderr.startswith(f"tunesmith: error: {path}: ")


def test_the_same_damaged_bytes_read_the_same_in_two_processes(tmp_path):
    """Reading must not depend on memory left over in the process (prepare's shards are
    built from it and must come out byte for byte the same)."""
    paths = [p for p in damaged_files(tmp_path) if p.suffix == ".mid"][::7]
    code = ("import sys, hashlib\nfrom tunesmith.io.midi import read_midi\n"
            "from tunesmith.errors import TunesmithError\n"
            "for p in sys.argv[1:]:\n"
            "    try:\n"
            "        s = read_midi(p)\n"
            "        h = hashlib.sha1(b''.join(t.notes.tobytes() for t in s.tracks)"
            " + s.tempos.tobytes() + str(s.metadata.get('recovered')).encode())\n"
            "        print(h.hexdigest())\n"
            "    except TunesmithError as e:\n"
            "        print(e.reason)\n")
    runs = [subprocess.run([sys.executable, "-c", code, *map(str, paths)], capture_output=True,
                           text=True, timeout=600) for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr[-2000:]
    assert len(runs[0].stdout.splitlines()) == len(paths)
    assert runs[0].stdout == runs[1].stdout


def test_render_refuses_a_damaged_file_that_lasts_days(tmp_path, capsys):
    """Two notes 60,000 quarters apart at the slowest MIDI tempo (16.8 s a quarter): the
    reader reads it, and audio for it (280 hours, hundreds of GB) is refused in one line
    (the synthesizer died of bad_alloc)."""
    from tunesmith.cli import main

    track = (b"\x00\xff\x51\x03\xff\xff\xff" + b"\x00\x90\x3c\x40\x01\x80\x3c\x00"
             + b"\x83\xd4\x60\x90\x3e\x40\x01\x80\x3e\x00")
    path = tmp_path / "slow.mid"
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 1) + b"MTrk"
                     + struct.pack(">I", len(track)) + track)
    code = main(["render", str(path), "--format", "wav", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "lasts 279.6 hours; audio is rendered for at most 2 hours" in err
