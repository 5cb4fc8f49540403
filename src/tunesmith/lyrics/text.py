"""A song's words (WORDS.txt) as sections of lines, and which sections share a tune.

Each line is a phrase; blank lines separate sections; a line ``[Verse]``, ``[Chorus]``,
``[Bridge]`` (any name in brackets) names the section below it. Sections share a tune
when they have the same tag, or (untagged) the same words: a repeated chorus. Of the
untagged sections that are not repeated, the first is the verse, and a later one with
as many lines is another verse, sung to the verse's tune with its own words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReadError
from .syllables import Syllable, check_language, syllabify

MAX_LINE_SYLLABLES = 40
"""Most syllables one line (a sung phrase) may hold: about ten seconds at four a second."""

MAX_FILE_BYTES = 1_000_000
"""A words file larger than this is not a song's words."""

_TAG = re.compile(r"^\s*\[\s*([^\]]{1,40}?)\s*\]\s*$")


@dataclass
class Section:
    """One section of the song: its display name ("Verse 2"), its tune's name
    ("Verse"), its lines as written and their syllables."""

    name: str
    tune: str
    lines: list[str]
    syllables: list[list[Syllable]] = field(default_factory=list)


def read_words(path: str | Path, lang: str = "en") -> list[Section]:
    """The sections of a words file; a one-line `ReadError` naming the file for an
    empty or unreadable file, an overlong line or an unknown language."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ReadError(f"larger than {MAX_FILE_BYTES // 1000} kB: not a song's words", path)
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(f"cannot read the words: {getattr(exc, 'strerror', None) or exc}", path) from None
    try:
        return parse_words(text, lang)
    except ReadError as exc:
        raise ReadError(exc.reason, path) from None


def parse_words(text: str, lang: str = "en") -> list[Section]:
    """Sections of a song text (see the module docstring), each line syllabified."""
    from ..errors import RequestError

    try:
        lang = check_language(lang)
    except RequestError as exc:
        raise ReadError(exc.reason) from None
    blocks: list[tuple[str | None, list[str]]] = []
    tag, lines = None, []
    for raw in text.splitlines() + [""]:
        match = _TAG.match(raw)
        if match or not raw.strip():
            if lines:
                blocks.append((tag, lines))
                tag, lines = None, []
            if match:
                tag = match.group(1).strip().title()
            continue
        lines.append(raw.strip())
    if not blocks:
        raise ReadError("the words file holds no words")
    sections = _name_sections(blocks)
    for section in sections:
        for line in section.lines:
            syllables = syllabify(line, lang)
            if not syllables:
                raise ReadError(f"line {line[:40]!r} holds no syllable to sing")
            if len(syllables) > MAX_LINE_SYLLABLES:
                raise ReadError(f"a line of {len(syllables)} syllables ({line[:30]!r}...) is longer than "
                                f"a sung phrase ({MAX_LINE_SYLLABLES} at most): break it into lines")
            section.syllables.append(syllables)
    return sections


def _name_sections(blocks: list[tuple[str | None, list[str]]]) -> list[Section]:
    """Name each block and give it a tune (see the module docstring)."""
    words = [tuple(" ".join(line.lower().split()) for line in lines) for _, lines in blocks]
    repeated = {w for w in words if words.count(w) > 1}
    verse_lines = None
    tunes_by_words: dict[tuple, str] = {}
    counts: dict[str, int] = {}
    sections = []
    new_tunes = 0
    for (tag, lines), w in zip(blocks, words):
        if tag:
            tune = _base_name(tag)
        elif w in tunes_by_words:
            tune = tunes_by_words[w]
        elif w in repeated:
            tune = "Chorus"
        elif verse_lines is None or len(lines) == verse_lines:
            tune = "Verse"
        else:
            new_tunes += 1
            tune = "Bridge" if new_tunes == 1 else f"Part {chr(ord('C') + new_tunes - 2)}"
        if tune == "Verse" and verse_lines is None:
            verse_lines = len(lines)
        tunes_by_words.setdefault(w, tune)
        same_words = sum(1 for s in sections if s.tune == tune and _words(s) == w)
        if same_words == 0:
            counts[tune] = counts.get(tune, 0) + 1
        number = counts.get(tune, 1)
        name = tag or tune
        if tune == "Verse" or (tag and _base_name(tag) != tag):
            name = tag if tag and tag[-1].isdigit() else f"{tune} {number}"
        sections.append(Section(name=name, tune=tune, lines=list(lines)))
    return sections


def _base_name(tag: str) -> str:
    """``"Verse 2"`` -> ``"Verse"``: the tune a numbered tag belongs to."""
    return re.sub(r"\s*\d+$", "", tag) or tag


def _words(section: Section) -> tuple:
    return tuple(" ".join(line.lower().split()) for line in section.lines)
