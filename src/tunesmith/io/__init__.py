"""Files to `Score` and back: one entry point per direction, dispatched on extension.

>>> import tunesmith
>>> score = tunesmith.read("tests/data/bach_bwv66.6.mxl")   # doctest: +SKIP
>>> tunesmith.write(score, "/tmp/bwv66.mid", overwrite=True)  # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from ..errors import ReadError, WriteError
from ..score import Score

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".rmi", ".smf")
MUSIC21_SUFFIXES = (".musicxml", ".xml", ".mxl", ".abc", ".krn")
READABLE_SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES
WRITABLE_SUFFIXES = (".mid", ".midi", ".musicxml", ".xml")


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def read_pieces(path: str | os.PathLike) -> Iterator[Score]:
    """Every piece in a file: one for MIDI and MusicXML, every tune of an ABC tunebook.

    Raises ``ReadError`` (naming the file and the reason) if the file is missing, of an
    unsupported kind, or holds nothing that can be recovered.
    """
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise ReadError("no such file" if not path.exists() else "not a file", path)
    if suffix in MIDI_SUFFIXES:
        from .midi import read_midi

        yield read_midi(path)
    elif suffix in MUSIC21_SUFFIXES:
        from .music21_read import read_music21_pieces

        yield from read_music21_pieces(path)
    else:
        from .audio_prompt import AUDIO_SUFFIXES

        hint = ("; a recording is heard as notes with generate --prompt-audio"
                if suffix in AUDIO_SUFFIXES else "")
        raise ReadError(f"unsupported file type {suffix or '(none)'}; "
                        f"tunesmith reads {', '.join(READABLE_SUFFIXES)}{hint}", path)


def read(path: str | os.PathLike, index: int = 0) -> Score:
    """Read a music file into a `Score`; ``index`` picks a tune of a multi-tune file."""
    for i, score in enumerate(read_pieces(path)):
        if i == index:
            return score
    raise ReadError(f"holds no piece number {index}", path)


def write(score: Score, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Write ``score`` to ``.mid``/``.midi`` or ``.musicxml``/``.xml``, atomically.

    An existing file raises ``WriteError`` unless ``overwrite`` is true.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix in (".mid", ".midi"):
        from .midi import write_midi

        write_midi(score, path, overwrite=overwrite)
    elif suffix in (".musicxml", ".xml"):
        from .musicxml import write_musicxml

        write_musicxml(score, path, overwrite=overwrite)
    else:
        raise WriteError(f"cannot write {suffix or '(no extension)'}; "
                         f"tunesmith writes {', '.join(WRITABLE_SUFFIXES)}", path)
