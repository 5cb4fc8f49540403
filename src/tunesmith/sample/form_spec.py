"""A form as data: named sections with their lengths, parsed from what a composer writes.

Kept apart from `sample.form` (which drafts the sections) so that checking a request
(`sample.request`) needs nothing above it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import RequestError

MAX_SECTIONS = 64
"""Most sections a form may name."""

_TOKEN_RE = re.compile(r"^([A-Za-z][A-Za-z_'-]*?)(\d+)?$")


@dataclass(frozen=True)
class Section:
    """One section of a form: its name, its length in bars, and whether an earlier
    section of the same name exists (then it repeats that one)."""

    name: str
    bars: int
    repeat: bool


def parse_form(text: str, bars: int | None) -> list[Section]:
    """Sections of a form. ``"AABA"`` (one letter a section), or names with optional
    bar counts separated by spaces or commas (``"A8 A8 B8 A8"``, ``"verse8 chorus8
    verse chorus"``). A name keeps its length wherever it appears; when every section
    has a count the form sets the piece's length, otherwise the sections without one
    share what ``bars`` leaves equally. Raises a one-line `RequestError`."""
    text = (text or "").strip()
    if not text:
        raise RequestError("the form is empty: give sections like AABA or 'A8 B8 A8'")
    if re.fullmatch(r"[A-Z]+", text):
        words = list(text)
    else:
        words = [w for w in re.split(r"[\s,;|]+", text) if w]
    if len(words) > MAX_SECTIONS:
        raise RequestError(f"the form has {len(words)} sections; at most {MAX_SECTIONS}")
    names, counts = [], {}
    for word in words:
        match = _TOKEN_RE.match(word)
        if not match:
            raise RequestError(f"bad form section {word!r}: use a name with an optional bar count, e.g. A8 or verse8")
        name, count = match.group(1), match.group(2)
        names.append(name)
        if count is not None:
            count = int(count)
            if not 1 <= count <= 256:
                raise RequestError(f"section {word!r}: a section has 1-256 bars")
            if counts.setdefault(name, count) != count:
                raise RequestError(f"section {name!r} has two lengths ({counts[name]} and {count} bars); "
                                   "a repeated section keeps its length")
    free = [n for n in names if n not in counts]
    if free:
        if bars is None:
            raise RequestError("give --bars or a bar count for every section (e.g. 'A8 B8 A8')")
        left = bars - sum(counts[n] for n in names if n in counts)
        if left < len(free) or left % len(free):
            raise RequestError(f"{bars} bars do not split into the form's {len(free)} sections without a "
                               f"count; give counts like 'A8 B8' or another --bars")
        for name in free:
            counts[name] = left // len(free)
    total = sum(counts[n] for n in names)
    if total > 256:
        raise RequestError(f"the form is {total} bars long; at most 256")
    seen: set[str] = set()
    sections = []
    for name in names:
        sections.append(Section(name, counts[name], name in seen))
        seen.add(name)
    return sections
