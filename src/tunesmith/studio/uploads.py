"""Uploads: a prompt score, a hummed or sung take to use as the prompt, a lyrics text
or a vocal take to hear over the music, each checked with tunesmith's own readers.

An upload is stored under a server-made id, named by its kind and its checked suffix
only (the client's file name is kept for display, never as a path). A prompt is read
with `tunesmith.io.read` in a child process: a damaged MIDI file can crash the MIDI
parser itself (a segfault no ``except`` catches; see shared NOTES), a hostile
MusicXML file can take long, and a hummed take (`io.audio_prompt`, the reader of
``generate --prompt-audio``) imports librosa, so the studio keeps all of them away from
its own process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..atomic import write_bytes
from ..errors import ReadError, RequestError
from ..io import READABLE_SUFFIXES
from .workdir import Workdir, now

LIMITS = {"prompt": 5_000_000, "hum": 30_000_000, "lyrics": 100_000, "vocals": 60_000_000}
"""Largest upload of each kind, in bytes (a 60 MB WAV is about 6 minutes of CD audio)."""

SUFFIXES = {"prompt": READABLE_SUFFIXES, "hum": (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff"),
            "lyrics": (".txt", ".lrc", ""),
            "vocals": (".wav", ".flac", ".ogg", ".aif", ".aiff")}

READ_TIMEOUT = 120
"""Seconds a prompt may take to read (a string-quartet movement through music21: ~50 s)."""


def check_upload(kind: str, filename: str, size: int) -> str:
    """The upload's suffix, lower case, once its kind, suffix and size are allowed."""
    if kind not in LIMITS:
        raise RequestError(f"unknown upload kind {str(kind)[:20]!r}: choose {', '.join(LIMITS)}")
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES[kind]:
        raise RequestError(f"a {kind} upload must be one of "
                           f"{', '.join(s for s in SUFFIXES[kind] if s)}, not {suffix or 'no extension'}")
    if size > LIMITS[kind]:
        raise RequestError(f"the file is {size / 1e6:.1f} MB; a {kind} upload may be at most "
                           f"{LIMITS[kind] / 1e6:g} MB")
    if size == 0:
        raise RequestError("the file is empty")
    return suffix


def store(workdir: Workdir, kind: str, filename: str, data: bytes, extra: dict | None = None) -> dict:
    """Keep the bytes in a new upload folder, check them with the reader of their kind,
    and return the upload's record. A file the reader refuses is removed again and
    raises the reader's one-line reason."""
    suffix = check_upload(kind, filename, len(data))
    record = workdir.create("uploads", {"kind": kind, "name": Path(filename).name[:120],
                                        "file": f"{kind}{suffix}", "bytes": len(data), "ready": False})
    folder = workdir.folder("uploads", record["id"])
    path = folder / record["file"]
    write_bytes(path, data)
    try:
        record.update(_check(kind, path, folder, extra or {}), **(extra or {}))
    except Exception:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
        raise
    record.update(ready=True, checked=now())
    workdir.save("uploads", record)
    return record


def _check(kind: str, path: Path, folder: Path, extra: dict) -> dict:
    if kind == "lyrics":
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ReadError("the lyrics are not UTF-8 text") from None
        if "\x00" in text:
            raise ReadError("the lyrics file is not text")
        return {"text": text.strip()}
    if kind == "vocals":
        from ..render.audio import SAMPLE_RATE
        from ..render.vocals import load_take

        take = load_take(path, SAMPLE_RATE)
        return {"seconds": round(len(take) / SAMPLE_RATE, 3)}
    if kind == "hum":
        return read_prompt(path, folder / "score.mid", audio=True, tempo=extra.get("tempo"))
    return read_prompt(path, folder / "score.mid")


def read_prompt(path: Path, midi_out: Path, audio: bool = False, tempo: float | None = None) -> dict:
    """Read a score with `tunesmith.io.read` (``audio``: a take, with
    `io.audio_prompt.read_audio_prompt` at ``tempo`` quarters per minute, None = found
    from the take) in a child process and write it as MIDI to ``midi_out`` (what
    drafting reads back); return its bars, notes and tracks."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP",)}
    try:
        command = [sys.executable, "-m", "tunesmith.studio.uploads", str(path), str(midi_out)]
        command += ["audio", str(tempo or "")] if audio else []
        done = subprocess.run(command,
                              capture_output=True, text=True, timeout=READ_TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        raise ReadError(f"reading took more than {READ_TIMEOUT} s; is it a score?") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode < 0 or not lines:
        raise ReadError("the file could not be read (the reader crashed on it: is it damaged?)")
    result = json.loads(lines[-1])
    if "error" in result:
        raise ReadError(result["error"])
    return result


def _child(path: str, midi_out: str, audio: str = "", tempo: str = "") -> int:
    """In the child: read, refuse a score without notes, write MIDI; print one JSON line."""
    from ..errors import TunesmithError
    from ..io import read
    from ..io.midi import write_midi

    try:
        if audio:
            from ..io.audio_prompt import read_audio_prompt

            score = read_audio_prompt(path, tempo=float(tempo) if tempo else None)
        else:
            score = read(path)
        if score.note_count() == 0:
            raise ReadError("the file holds no notes")
        write_midi(score, midi_out, overwrite=True)
        print(json.dumps({"notes": score.note_count(), "tracks": len(score.tracks),
                          "bars": int(len(score.bar_starts()))}))
    except TunesmithError as exc:
        print(json.dumps({"error": exc.reason}))
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's, for the page
        print(json.dumps({"error": f"not a readable score ({type(exc).__name__}: {str(exc)[:120]})"}))
    return 0


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:5]))
