"""Downloads: a draft or a piece's version in any format, rendered once and kept.

Each score lives as MIDI (what `write_draft` wrote); MusicXML, WAV, stems and the zip
are rendered from it with `tunesmith.render.render` on first request, under a lock, into
the same folder, so a second request (or a second tab) is served the file already there.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_path
from ..errors import RequestError
from .workdir import NotFound, Workdir

DOWNLOADS = ("mid", "musicxml", "wav", "stems", "zip")
"""What can be downloaded: stems and zip are zip files."""

MEDIA = {"mid": "audio/midi", "musicxml": "application/vnd.recordare.musicxml+xml",
         "wav": "audio/wav", "stems": "application/zip", "zip": "application/zip"}


@dataclass
class Item:
    """A score on disk: ``folder/stem.mid``, its renders beside it; ``vocals`` a take
    (path, offset in seconds, gain in dB, upload id) mixed into its audio."""

    folder: Path
    stem: str
    name: str
    """The download's file name, without extension."""
    vocals: tuple[Path, float, float, str] | None = None

    @property
    def midi(self) -> Path:
        return self.folder / f"{self.stem}.mid"


def draft_item(workdir: Workdir, job_id: str, seed: int) -> Item:
    folder = workdir.existing("jobs", job_id)
    item = Item(folder, f"draft-s{int(seed)}", f"tunesmith-{job_id}-s{int(seed)}")
    if not item.midi.is_file():
        raise NotFound(f"job {job_id} has no draft with seed {seed}")
    return item


def version_item(workdir: Workdir, piece_id: str, number: int | None = None) -> Item:
    """Version ``number`` of a piece (default: its current one)."""
    piece = workdir.load("pieces", piece_id)
    number = piece["current"] if number is None else int(number)
    if not any(v["n"] == number for v in piece["versions"]):
        raise NotFound(f"piece {piece_id} has no version {number}")
    item = Item(workdir.version_folder(piece_id, number), "score", f"tunesmith-{piece_id}-v{number}")
    vocals = piece.get("vocals")
    if vocals:
        take = workdir.existing("uploads", vocals["upload"]) / vocals["file"]
        item.vocals = (take, float(vocals["offset"]), float(vocals["gain"]), vocals["upload"])
    return item


def read_item(item: Item):
    from ..io import read

    return read(item.midi)


def download(workdir: Workdir, item: Item, fmt: str) -> Path:
    """The file of ``item`` in ``fmt`` (one of `DOWNLOADS`), rendering it if needed."""
    if fmt not in DOWNLOADS:
        raise NotFound(f"no download {fmt[:20]!r}: choose from {', '.join(DOWNLOADS)}")
    if fmt == "mid":
        return item.midi
    with workdir.lock(f"render-{item.folder.parent.name}-{item.folder.name}-{item.stem}"):
        if fmt == "musicxml":
            return _rendered(item, "musicxml")
        if fmt == "wav":
            return _audio(item)
        if fmt == "stems":
            return _stems_zip(item)
        return _everything_zip(item)


def _rendered(item: Item, fmt: str) -> Path:
    from ..render import render

    path = item.folder / f"{item.stem}.{fmt}"
    if not path.is_file():
        render(read_item(item), fmt, item.folder, stem=item.stem, overwrite=True)
    return path


def _audio_stem(item: Item) -> str:
    """Audio with a vocal take is kept under the take's id (a new take, a new file)."""
    return f"{item.stem}.with-{item.vocals[3]}" if item.vocals else item.stem


def _audio(item: Item, stems: bool = False) -> Path:
    from ..render import render

    stem = _audio_stem(item)
    folder = item.folder / (f"{stem}.stems" if stems else "")
    path = folder / f"{stem}.wav"
    if not path.is_file():
        vocals = dict(vocals=item.vocals[0], vocals_offset=item.vocals[1],
                      vocals_gain_db=item.vocals[2]) if item.vocals else {}
        render(read_item(item), "wav", folder, stem=stem, stems=stems, overwrite=True, **vocals)
    return path


def _stems_zip(item: Item) -> Path:
    stem = _audio_stem(item)
    path = item.folder / f"{stem}.stems.zip"
    if not path.is_file():
        mix = _audio(item, stems=True)
        _zip(path, [(p, f"{item.name}/{p.name.replace(stem, item.name, 1)}")
                    for p in sorted(mix.parent.glob("*.wav"))])
    return path


def _everything_zip(item: Item) -> Path:
    path = item.folder / f"{_audio_stem(item)}.all.zip"
    if not path.is_file():
        files = [item.midi, _rendered(item, "musicxml"), _audio(item)]
        json_path = item.folder / f"{item.stem}.json"
        files += [json_path] if json_path.is_file() else []
        stems = _stems_zip(item)
        _zip(path, [(p, f"{item.name}/{item.name}{p.suffix}") for p in files]
             + [(stems, f"{item.name}/{item.name}.stems.zip")])
    return path


def _zip(path: Path, members: list[tuple[Path, str]]) -> None:
    """Write a zip atomically; deflate at its fastest level (WAV barely shrinks, MIDI
    and MusicXML shrink well at any level)."""
    if not members:
        raise RequestError("nothing to put in the zip")
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for source, name in members:
                archive.write(source, name)
