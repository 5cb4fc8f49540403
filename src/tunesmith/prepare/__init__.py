"""Folders of music files to token shards that training reads at full speed.

``prepare(config, out)`` walks the sources, reads and tokenizes every file in a pool of
worker processes (a file that hangs its parser is killed after ``timeout_s``), keeps
each file's result in ``out/work/`` and finally writes the layout `tunesmith.data`
reads: per split ``shard-NNNNN.bin``, ``index.npy``, ``bars.npy``, ``pieces.jsonl``,
plus ``tokenizer.json`` and ``manifest.json``.

- **Splits** are decided by a hash of each piece's notes, so adding files never moves
  an existing piece and duplicates never straddle train and test; exact duplicates
  are dropped (the first by source path is kept).
- **Resume**: re-running the same command skips files already in ``out/work/`` and
  gives byte-identical output to an uninterrupted run.
- **Absurd pieces**: runs of more than 2 empty bars are cut to 2 before tokenizing
  (`silence.cap_silences`), and a piece needing more than 40 tokens a note is skipped
  with its reason in the manifest's ``skipped_pieces`` (`pieces.MAX_TOKENS_PER_NOTE`).
- **Clusters**: ``part=(i, n)`` prepares a fixed 1/n of the files (by a hash of their
  path) into its own folder; ``merge(parts, out)`` joins the parts into what one run
  over all files would have written.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..atomic import write_text
from ..errors import DataError, RequestError
from ..io import READABLE_SUFFIXES
from .pieces import (MAX_TOKENS_PER_NOTE, FileRecord, Piece, load_record, record_timeout,
                     save_record, tokenize_file)
from .silence import MAX_EMPTY_BARS
from .pool import run_tasks
from ..data import SPLITS
from .shards import assemble

__all__ = ["PrepareConfig", "prepare", "merge", "find_files"]

WORK_FOLDER = "work"


@dataclass
class PrepareConfig:
    """What to prepare and how; saved in the manifest.

    sources: files and folders (folders are walked for every readable extension).
    val_fraction, test_fraction: share of pieces, by content hash, in each held-out split.
    timeout_s: seconds one file may take to read and tokenize before it is skipped.
    shard_tokens: tokens per shard file at most (a longer piece gets its own shard).
    part: ``(i, n)``, 1-based: prepare only the i-th of n disjoint parts of the files.
    """

    sources: Sequence[str]
    val_fraction: float = 0.02
    test_fraction: float = 0.02
    timeout_s: float = 600.0
    shard_tokens: int = 1 << 26
    part: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.sources = [os.fspath(s) for s in self.sources]
        if not self.sources:
            raise RequestError("give at least one file or folder to prepare")
        if not (0 <= self.val_fraction and 0 <= self.test_fraction
                and self.val_fraction + self.test_fraction < 1):
            raise RequestError("--val and --test must be fractions that sum to less than 1")
        if self.timeout_s <= 0 or self.shard_tokens < 1:
            raise RequestError("--timeout and --shard-tokens must be positive")
        if self.part is not None:
            i, n = self.part
            if not 1 <= i <= n:
                raise RequestError(f"--shard {i}/{n}: I must be between 1 and N")
            self.part = (int(i), int(n))

    def settings(self) -> dict:
        """The fields that decide the output (the manifest's ``config``)."""
        data = asdict(self)
        data["sources"] = [_display_root(s) for s in self.sources]
        data["part"] = None if self.part is None else f"{self.part[0]}/{self.part[1]}"
        data["max_empty_bars"], data["max_tokens_per_note"] = MAX_EMPTY_BARS, MAX_TOKENS_PER_NOTE
        return data


def _display_root(source: str) -> str:
    """A source as recorded: its last path component, so that a prepared corpus does not
    depend on where the files lay (``/data/lmd_full`` -> ``lmd_full``)."""
    return Path(source).resolve().name


def find_files(sources: Sequence[str]) -> list[tuple[str, str]]:
    """``(path, name)`` for every file to read, ordered by ``name``.

    ``name`` is the path relative to the parent of its source argument (POSIX slashes):
    ``corpus/a/b.mid`` for ``b.mid`` found under the folder ``corpus``. Folders are
    walked for readable extensions; a file named explicitly is always taken (an
    unreadable kind is then skipped with its reason).
    """
    found: dict[str, str] = {}
    for source in sources:
        root = Path(source)
        if not root.exists():
            raise RequestError("no such file or folder", source)
        top = _display_root(source)
        if root.is_file():
            candidates = [(root, top)]
        else:
            candidates = []
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file in files:
                    if not file.startswith(".") and file.lower().endswith(READABLE_SUFFIXES):
                        path = Path(folder) / file
                        candidates.append((path, f"{top}/{path.relative_to(root).as_posix()}"))
        for path, name in candidates:
            if name in found and found[name] != str(path):
                raise RequestError(f"two sources give the same name {name!r}; "
                                   "rename one of the folders", source)
            found[name] = str(path)
    return sorted(((path, name) for name, path in found.items()), key=lambda item: item[1])


def in_part(name: str, part: tuple[int, int] | None) -> bool:
    """Whether the file ``name`` belongs to ``part`` (i, n): a hash of the name, so a
    file's part never changes when others are added."""
    if part is None:
        return True
    i, n = part
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n == i - 1


def tokenizer_from_json(text: str):
    """A `Tokenizer` from the text of its ``tokenizer.json``."""
    from ..tokenizer import Tokenizer, TokenizerConfig

    return Tokenizer(TokenizerConfig.from_dict(json.loads(text)["config"]))


def _record_path(work: Path, name: str) -> Path:
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).hexdigest()
    return work / "files" / digest[:2] / f"{digest}.npz"


class _FileWorker:
    """The task function of a pool worker: build the tokenizer once, then tokenize a file
    and save its record, answering with a one-line summary."""

    def __init__(self, tokenizer_json: str):
        self.tokenizer_json = tokenizer_json

    def __call__(self):
        tokenizer = tokenizer_from_json(self.tokenizer_json)

        def work(task):
            path, name, record_path = task
            record = tokenize_file(path, name, tokenizer)
            save_record(record, Path(record_path))
            return len(record.pieces)

        return work


def _check_work_folder(out: Path, tokenizer_json: str) -> Path:
    """The work folder of ``out``, created for this tokenizer; refuse to mix results of
    another tokenizer or to write into a folder that is not a prepared corpus."""
    work = out / WORK_FOLDER
    stamp = work / "tokenizer.json"
    if stamp.exists():
        if stamp.read_text(encoding="utf-8") != tokenizer_json:
            raise RequestError("was prepared with another tokenizer; use a new --out folder "
                               f"or delete {stamp.parent}", out)
        return work
    if out.exists() and any(p.name != WORK_FOLDER for p in out.iterdir()):
        if not (out / "manifest.json").exists():
            raise RequestError("exists and is not a prepared corpus; choose a new --out", out)
    work.mkdir(parents=True, exist_ok=True)
    write_text(stamp, tokenizer_json)
    return work


def prepare(config: PrepareConfig, out: str | os.PathLike, tokenizer=None, workers: int = 2,
            progress: bool = True, on_file: Callable[[str], None] | None = None) -> dict:
    """Prepare ``config.sources`` into ``out``; return the manifest (also in
    ``out/manifest.json``). ``tokenizer`` defaults to ``Tokenizer()``.

    Re-running with the same arguments resumes: finished files are read back from
    ``out/work/``. ``on_file(name)`` is called as each file finishes (for tests and
    progress hooks); an exception it raises stops the run like an interrupt would.
    """
    from ..tokenizer import Tokenizer

    out = Path(out)
    tokenizer = tokenizer or Tokenizer()
    tokenizer_json = tokenizer.vocab.to_json()
    work = _check_work_folder(out, tokenizer_json)
    files = [(path, name) for path, name in find_files(config.sources) if in_part(name, config.part)]

    todo = []
    for path, name in files:
        record_path = _record_path(work, name)
        if record_path.exists():
            limit = record_timeout(record_path)
            if limit is None or limit >= config.timeout_s:
                continue  # done (a timed-out file is retried only under a longer limit)
        todo.append((path, name, str(record_path)))
    # largest files first, so that one big tunebook does not run alone at the end
    todo.sort(key=lambda task: -os.path.getsize(task[0]))

    _preload_readers(task[0] for task in todo)
    bar = _progress_bar(len(files), len(files) - len(todo), progress, "prepare")
    outcomes = run_tasks(todo, _FileWorker(tokenizer_json), workers=workers,
                         timeout_s=config.timeout_s)
    with contextlib.closing(outcomes), bar:  # an interrupt stops the workers at once
        for outcome in outcomes:
            path, name, record_path = outcome.task
            if outcome.status == "timeout":
                save_record(FileRecord(name, skipped=f"timed out after {config.timeout_s:g} s",
                                       timeout_s=config.timeout_s), Path(record_path))
            elif outcome.status == "crash":
                save_record(FileRecord(name, skipped=outcome.value), Path(record_path))
            bar.update(1)
            if on_file is not None:
                on_file(name)

    with _progress_bar(len(files), 0, progress, "shards") as bar:
        def records():
            for _, name in files:  # by name: never by the order workers finished in
                yield load_record(_record_path(work, name))
                bar.update(1)

        return _write_corpus(out, records(), config.settings(), tokenizer)


def _preload_readers(paths) -> None:
    """Import the readers the files need before the workers fork: every worker (and each
    replacement) then starts at once, and all run the same code."""
    from ..io import MIDI_SUFFIXES

    suffixes = {Path(p).suffix.lower() for p in paths}
    if suffixes & set(MIDI_SUFFIXES):
        from ..io import midi  # noqa: F401
    if suffixes - set(MIDI_SUFFIXES):
        import music21  # noqa: F401

        from ..io import music21_read  # noqa: F401


def _write_corpus(out: Path, records, settings: dict, tokenizer, file_counts=None) -> dict:
    (out / "manifest.json").unlink(missing_ok=True)  # incomplete until written again
    tokenizer.save(out / "tokenizer.json")
    dtype = "uint16" if tokenizer.vocab_size < 2**16 else "uint32"
    return assemble(out, records, settings, dtype, tokenizer.vocab_size, file_counts)


def _progress_bar(total: int, done: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="file", desc=desc, disable=not enabled,
                dynamic_ncols=True)


# --- merging the parts of a cluster run --------------------------------------------------
def merge(parts: Sequence[str | os.PathLike], out: str | os.PathLike) -> dict:
    """Join folders prepared with ``part=(1, n) .. (n, n)`` into ``out``: the same bytes
    one run over all the files would have written (duplicates across parts dropped)."""
    out = Path(out)
    parts = [Path(p) for p in parts]
    manifests = []
    for part in parts:
        try:
            manifests.append(json.loads((part / "manifest.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            raise DataError("is not a finished prepared corpus (no readable manifest.json)", part)
    settings = {**manifests[0]["config"], "part": None}
    numbers = []
    for part, manifest in zip(parts, manifests):
        other = {**manifest["config"], "part": None}
        if other != settings or manifest["config"]["part"] is None:
            raise DataError("was not prepared as a part of the same run as "
                            f"{parts[0]} (compare the manifests' config)", part)
        numbers.append(tuple(int(x) for x in manifest["config"]["part"].split("/")))
    n = numbers[0][1]
    if sorted(numbers) != [(i, n) for i in range(1, n + 1)]:
        raise DataError(f"parts given: {', '.join(f'{i}/{m}' for i, m in sorted(numbers))}; "
                        f"a merge needs each of 1/{n} .. {n}/{n} once")
    tokenizer_json = (parts[0] / "tokenizer.json").read_text(encoding="utf-8")
    for part in parts[1:]:
        if (part / "tokenizer.json").read_text(encoding="utf-8") != tokenizer_json:
            raise DataError(f"has another tokenizer than {parts[0]}", part)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise RequestError("exists and is not a prepared corpus; choose a new --out", out)

    records: dict[str, FileRecord] = {}

    def record(name: str) -> FileRecord:
        return records.setdefault(name, FileRecord(name))

    for part, manifest in zip(parts, manifests):
        for entry in manifest["skipped_files"]:
            rec = record(entry["path"])
            rec.skipped, rec.timeout_s = entry["reason"], entry.get("timeout_s")
        for entry in manifest["skipped_pieces"]:
            record(entry["path"]).failed.append({"piece": entry["piece"], "reason": entry["reason"]})
        for entry in manifest["duplicates"]:  # a duplicate in its part stays one overall
            record(entry["path"]).pieces.append(
                Piece({"piece": entry["piece"], "hash": entry["hash"]}, None, None))
        for split in SPLITS:
            for meta, ids, bars in _read_split(part / split, manifest["token_dtype"]):
                name = meta.pop("path")
                record(name).pieces.append(Piece(meta, ids, bars))
    for rec in records.values():
        rec.pieces.sort(key=lambda p: p.meta["piece"])
        rec.failed.sort(key=lambda f: f["piece"])
    file_counts = {key: sum(m["counts"][key] for m in manifests)
                   for key in ("files", "files_skipped")}
    out.mkdir(parents=True, exist_ok=True)
    ordered = (records[name] for name in sorted(records))
    return _write_corpus(out, ordered, settings, tokenizer_from_json(tokenizer_json), file_counts)


def _read_split(folder: Path, dtype: str):
    """``(meta, ids, bars)`` of every piece of one split of a prepared folder (ids as
    lazy memmap slices)."""
    index = np.load(folder / "index.npy")
    bars = np.load(folder / "bars.npy")
    lines = (folder / "pieces.jsonl").read_text(encoding="utf-8").splitlines()
    shards = {}
    for row, line in zip(index, lines):
        shard = int(row["shard"])
        if shard not in shards:
            shards[shard] = np.memmap(folder / f"shard-{shard:05d}.bin", dtype=dtype, mode="r")
        start = int(row["offset"])
        yield (json.loads(line), shards[shard][start:start + int(row["length"])],
               bars[row["bar_start"]:row["bar_start"] + row["bar_count"]])


def remove_work_folder(out: str | os.PathLike) -> None:
    """Delete ``out/work/`` once a corpus is final (it is needed only to resume or to
    add files)."""
    shutil.rmtree(Path(out) / WORK_FOLDER, ignore_errors=True)
