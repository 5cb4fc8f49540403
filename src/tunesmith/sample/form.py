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

from dataclasses import replace

import numpy as np

from ..errors import RequestError
from ..score import Marker, Score
from ..tokenizer import T, Tokenizer
from .form_spec import Section, parse_form
from .plans import prompt_ids
from .request import GenerationRequest
from .ranking import rank
from .rules.form import FORCED_RHYTHM, RhythmTemplate

__all__ = ["Section", "generate_form", "parse_form"]

FORM_SEED_STRIDE = 7_000_003
"""Section k of the draft with seed S draws with seed S + k * this."""


def generate_form(model, tok: Tokenizer, request: GenerationRequest, prompt: Score | None = None,
                  progress=None, compile: bool | str = False, *, generate) -> list:
    """Draft ``request.num_samples`` pieces in ``request.form`` (see the module
    docstring) and return the ``keep`` best (`ranking.rank`). ``prompt``: a Score the
    form continues (the sections follow its last bar). ``generate``: the sampler's
    `generate`, which drafts each section (passed in, so this module sits below it)."""
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
        finished.append(replace(draft, ids=tok.encode(score), score=score,
                                generated=score if prompt is None else _notes_from(score, int(ticks[prompt_bars])),
                                mean_log_likelihood=log_likelihood / max(tokens, 1), tokens_generated=tokens))
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
