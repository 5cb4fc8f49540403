"""Drafting a piece in a form: sections that repeat where the form says, and only there.

A form is a list of named sections ("AABA", "A8 A8 B8 A8", "verse8 chorus8 verse
chorus bridge chorus"). `generate_form` drafts it over the public `generate`: the first
section as a new piece (or as a continuation of the prompt), each new name as a
continuation of the piece so far (the model reads what came before), and each name seen
before as a note-for-note copy of its first occurrence, made on the Score, so repeated
sections are identical by construction. With ``vary`` a repeated section is drafted
again under its first occurrence's rhythm (positions, parts and lengths forced by
`rules.form.ForcedRhythm`): the same rhythm, new pitches. Each section's first bar gets
a marker (rehearsal mark) with its name.

The anti-loop mask (`rules.form.AntiLoop`) works inside each drafted section, so the
form decides what repeats; a copied section is not drafted and counts for nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..errors import RequestError
from ..score import Marker, Score
from ..tokenizer import T, Tokenizer
from .plans import prompt_ids
from .request import GenerationRequest
from .rules.form import FORCED_RHYTHM, RhythmTemplate

MAX_SECTIONS = 64
"""Most sections a form may name."""

FORM_SEED_STRIDE = 7_000_003
"""Section k of the draft with seed S draws with seed S + k * this."""

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


def generate_form(model, tok: Tokenizer, request: GenerationRequest, prompt: Score | None = None,
                  progress=None, compile: bool | str = False) -> list:
    """Draft ``request.num_samples`` pieces in ``request.form`` (see the module
    docstring) and return the ``keep`` best (`ranking.rank`). ``prompt``: a Score the
    form continues (the sections follow its last bar)."""
    from .ranking import rank
    from .sampler import Draft, generate

    if request.infill_bars or request.infill_program or request.lyrics:
        raise RequestError("a form drafts new music or continues a prompt: not with infilling or lyrics")
    sections = parse_form(request.form, request.bars)
    if request.vary and any(s.repeat and s.bars > 16 for s in sections):
        raise RequestError("--vary re-drafts sections of at most 16 bars")
    base = replace(request, form=None, vary=False, keep=None)
    first = generate(model, tok, replace(base, bars=sections[0].bars), prompt=prompt, compile=compile)
    prompt_bars = len(tok.bar_offsets(prompt_ids(tok, prompt)[0])) if prompt is not None else 0
    finished = []
    for draft in first:
        score = draft.score
        log_likelihood = draft.mean_log_likelihood * draft.tokens_generated
        tokens = draft.tokens_generated
        starts = [prompt_bars]  # first bar of each section, counted from the piece's bar 0
        for k, section in enumerate(sections[1:], start=1):
            starts.append(starts[-1] + sections[k - 1].bars)
            origin = starts[next(i for i, s in enumerate(sections) if s.name == section.name)]
            if section.repeat and not request.vary:
                score = copy_bars(score, origin, starts[k], section.bars)
                continue
            more = replace(base, bars=section.bars, num_samples=1, seed=draft.seed + k * FORM_SEED_STRIDE,
                           max_repeated_bars=_new_material_limit(request.max_repeated_bars, section))
            token = FORCED_RHYTHM.set(rhythm_template(tok, score, origin, section.bars)
                                      if section.repeat else None)
            try:
                following = generate(model, tok, more, prompt=score, compile=compile)[0]
            finally:
                FORCED_RHYTHM.reset(token)
            score = following.score
            log_likelihood += following.mean_log_likelihood * following.tokens_generated
            tokens += following.tokens_generated
        ticks = bar_ticks(score, starts[-1] + sections[-1].bars)
        score.markers = [m for m in score.markers] + [Marker(int(ticks[b]), s.name)
                                                        for b, s in zip(starts, sections)]
        score.markers.sort(key=lambda m: m.tick)
        score.metadata["form"] = " ".join(f"{s.name}{s.bars}" for s in sections)
        finished.append(Draft(index=draft.index, seed=draft.seed, ids=tok.encode(score), score=score,
                              generated=score if prompt is None else _notes_from(score, int(ticks[prompt_bars])),
                              mean_log_likelihood=log_likelihood / max(tokens, 1),
                              tokens_generated=tokens))
        if progress:
            progress(len(finished))
    return rank(finished, request.keep)


def _new_material_limit(limit: int | None, section: Section) -> int | None:
    """A new section copies fewer earlier bars than it has, so it is new material
    (a varied section keeps the request's limit)."""
    if section.repeat:
        return limit
    return min(section.bars - 1 if limit is None else limit, section.bars - 1)


def bar_ticks(score: Score, count: int) -> np.ndarray:
    """Ticks of the first ``count + 1`` bar lines of ``score`` (its meter map extended
    past its last note as needed)."""
    longest = 32 * score.ticks_per_quarter  # a bar is at most 8 whole notes
    starts = score.bar_starts(until_tick=int(score.bar_starts()[-1]) + (count + 2) * longest)
    return starts[: count + 1]


def copy_bars(score: Score, source: int, target: int, bars: int) -> Score:
    """A copy of ``score`` with bars ``source .. source + bars - 1`` (from 0) written
    again, note for note, from bar ``target``; notes already there are kept."""
    ticks = bar_ticks(score, max(source, target) + bars)
    lo, hi, shift = int(ticks[source]), int(ticks[source + bars]), int(ticks[target] - ticks[source])
    out = score.copy()
    for track in out.tracks:
        notes = track.notes
        picked = notes[(notes["onset"] >= lo) & (notes["onset"] < hi)].copy()
        picked["onset"] += shift
        merged = np.concatenate([notes, picked])
        track.notes = merged[np.lexsort((merged["pitch"], merged["onset"]))]
    return out


def rhythm_template(tok: Tokenizer, score: Score, first_bar: int, bars: int) -> RhythmTemplate:
    """Positions, parts and lengths of the notes of bars ``first_bar ..`` of ``score``,
    as the tokenizer writes them (one row of notes per bar), for `ForcedRhythm`. A note
    that would ring past the section's end is cut at it."""
    ids = tok.encode(score)
    vocab = tok.vocab
    offsets = list(tok.bar_offsets(ids)) + [len(ids)]
    rows = []
    for b in range(first_bar, first_bar + bars):
        if b + 1 >= len(offsets):
            rows.append([])
            continue
        notes, position, slot = [], 0, 0  # a bar starts in slot 0, as the grammar has it
        for token in ids[offsets[b]:offsets[b + 1]].tolist():
            kind, value = vocab.type_of[token], int(vocab.value_of[token])
            if kind == T.POSITION:
                position = value
            elif kind == T.TRACK:
                slot = value
            elif kind == T.DURATION:
                notes.append((position, slot, value))
        rows.append(notes)
    ticks = bar_ticks(score, first_bar + bars)
    units = np.rint(np.diff(ticks[first_bar:]) * tok.config.positions_per_quarter
                    / score.ticks_per_quarter).astype(np.int64)
    return RhythmTemplate.from_rows(rows, units, vocab.duration_values)


def _notes_from(score: Score, tick: int) -> Score:
    """A copy of ``score`` holding only the notes that start at ``tick`` or later (the
    new material after a prompt, repeated sections included: every drafts of a form
    repeats the same sections, so ranking compares them fairly, and dynamics shape
    a section and its repeats alike)."""
    out = score.copy()
    for track in out.tracks:
        track.notes = track.notes[track.notes["onset"] >= tick]
    return out
