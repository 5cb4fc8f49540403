"""One drafting path, shared by `tunesmith generate`, `tunesmith batch`, the Python API
and the studio:

    request -> `check` (the request, its prompt, the formats and the files it would
    write, before any model loads) -> `open_model` -> `draft` (sample, rank, check
    originality, write each draft with its provenance)

so every caller validates the same things in the same order, records the same
provenance and originality, and never overwrites what it should not.

>>> import tunesmith
>>> model = tunesmith.load_model()                                          # doctest: +SKIP
>>> request = tunesmith.GenerationRequest(bars=8, key="D dorian", programs=["flute"])
>>> results = tunesmith.generate(request, model=model, out="drafts", formats="mid,png")  # doctest: +SKIP
>>> results[0].paths                                                        # doctest: +SKIP
[PosixPath('drafts/draft-s0.mid'), PosixPath('drafts/draft-s0.png'), PosixPath('drafts/draft-s0.json')]
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .drafts import ModelInfo, draft_stem, load_model as _load_weights, provenance, write_draft
from .errors import RequestError, WriteError
from .sample.request import GenerationRequest, ResolvedRequest, resolve
from .sample.sampler import Draft
from .score import Score


PROMPT_IN_MEMORY = "<Score>"
"""What a draft's request records as its prompt when the prompt was a Score in memory."""


@dataclass
class LoadedModel:
    """A model ready to draft: weights, tokenizer, what drafts record about it, and the
    index of its training melodies (None: drafts are not checked for copying)."""

    model: object
    tokenizer: object
    info: ModelInfo
    index: object | None = None
    device: str = "cpu"


def open_model(folder: str | os.PathLike | None = None, device: str = "cpu",
               originality_index: str | os.PathLike | None = None) -> LoadedModel:
    """Load ``folder`` (default: the shipped model) on ``device`` with its originality
    index (``originality_index``, else the folder's ``originality.npz`` if present).
    On the CPU, drafting uses at most two threads: a step's small matrix products only
    wait on each other beyond that."""
    import torch

    from .evaluate.originality import OriginalityIndex

    try:  # "--device nonsense" ended in torch's RuntimeError traceback
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise RequestError(f"--device {device!r} is not a device: use cpu, cuda or cuda:N") from None
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RequestError(f"--device {device}: this torch build sees no CUDA GPU "
                           "(install a CUDA build of torch, see README)")
    if str(device) == "cpu":
        torch.set_num_threads(min(2, torch.get_num_threads()))
    model, tokenizer, info = _load_weights(None if folder is None else str(folder), str(device))
    candidate = Path(originality_index) if originality_index else Path(info.path) / "originality.npz"
    index = OriginalityIndex.load(candidate) if originality_index or candidate.is_file() else None
    if index is not None:  # the index names the corpus the model learnt from
        info = ModelInfo(info.path, info.name, info.weights_sha256, corpus=index.corpus,
                         licence=info.licence)
    return LoadedModel(model, tokenizer, info, index, str(device))


@dataclass
class CheckedRequest:
    """A request with everything it needs, checked: its resolved form, its prompt read,
    its output formats parsed."""

    request: GenerationRequest
    resolved: ResolvedRequest
    prompt: Score | None
    formats: list[str]


def check(request: GenerationRequest, formats: str | Iterable[str] = "mid",
          prompt: Score | None = None) -> CheckedRequest:
    """Everything about a request that can fail before the model loads: its fields,
    its output formats, its prompt file (read now, unless ``prompt`` is given)."""
    from .io import read
    from .render import parse_formats

    resolved = resolve(request)
    chosen = parse_formats(formats)
    if prompt is None and request.prompt_audio:  # a sung or played take (io.audio_prompt)
        from .io.audio_prompt import read_audio_prompt

        pitched = [p for p in resolved.programs if p != 128]
        prompt = read_audio_prompt(request.prompt_audio, tempo=request.tempo,
                                   meter=resolved.meter, program=pitched[0] if pitched else 73)
    elif prompt is None and request.prompt:
        prompt = read(request.prompt)
    return CheckedRequest(request, resolved, prompt, chosen)


@dataclass
class OriginalityPolicy:
    """Drafts sharing more than ``max_copied_bars`` bars with a training piece are
    reported (``warn``) and, with ``original_only``, dropped."""

    max_copied_bars: float = 4.0
    original_only: bool = False

    def __post_init__(self):
        bars = self.max_copied_bars  # NaN silenced every warning; -1 warned of "piece None"
        if isinstance(bars, bool) or not isinstance(bars, (int, float)) or not 0 <= bars < float("inf"):
            raise RequestError(f"max copied bars must be a number of bars, 0 or more, not {bars!r}")


@dataclass
class DraftResult:
    """A kept draft, its originality check (None: no index), and the files written."""

    draft: Draft
    originality: dict | None
    copies: bool = False           # shares more than the policy allows
    dropped: bool = False          # not written (``original_only``)
    paths: list[Path] = field(default_factory=list)
    reused: bool = False           # already on disk from the same request and weights


def taken_paths(out: Path, seeds: Iterable[int]) -> list[Path]:
    """Files in ``out`` that drafts with these seeds would write over."""
    return [p for seed in seeds for p in sorted(out.glob(f"{draft_stem(seed)}.*"))]


def check_outputs(checked: CheckedRequest, out: str | os.PathLike, overwrite: bool = False) -> None:
    """Raise `WriteError` if a draft of this request would overwrite a file."""
    request = checked.request
    taken = [] if overwrite else taken_paths(Path(out), range(request.seed, request.seed + request.num_samples))
    if taken:
        raise WriteError("already exists (use --overwrite, another --seed or another --out)", taken[0])


def draft(checked: CheckedRequest, loaded: LoadedModel, out: str | os.PathLike | None = None, *,
          overwrite: bool = False, reuse_same: bool = False, policy: OriginalityPolicy | None = None,
          progress=None, compile: bool | str = False, warn=None) -> list[DraftResult]:
    """Draft, rank, check originality and (with ``out``) write every kept draft.

    Callers check the outputs with `check_outputs` before loading the model, so that a
    taken file fails fast; the writers refuse to replace a file all the same.
    ``reuse_same``: a draft whose files are on disk from the same request, seed and
    weights is kept as it is (a resumed batch); files of any other draft are never
    overwritten without ``overwrite``. ``warn`` is called with a one-line message for
    each draft that copies its training data."""
    from .evaluate.originality import check_originality
    from .sample import generate
    from .sample.dynamics import shape_draft

    policy = policy or OriginalityPolicy()
    drafts = generate(loaded.model, loaded.tokenizer, checked.request, prompt=checked.prompt,
                      progress=progress, compile=compile)
    results = []
    for one in drafts:
        shape_draft(one.score, one.generated, checked.request.dynamics, prompt=checked.prompt)
        copied = check_originality(one.generated, loaded.index) if loaded.index is not None else None
        result = DraftResult(one, copied, copies=bool(copied and copied["longest_bars"] > policy.max_copied_bars))
        result.dropped = result.copies and policy.original_only
        if result.copies and warn:
            warn(f"draft seed {one.seed} shares {copied['longest_bars']:.1f} bars with training piece "
                 f"{copied['piece']} ({'dropped' if result.dropped else 'kept'})")
        if out is not None and not result.dropped:
            folder = Path(out)
            if reuse_same and _already_written(folder, one, checked.request, loaded.info):
                result.paths, result.reused = taken_paths(folder, [one.seed]), True
            else:
                result.paths = write_draft(one, checked.request, loaded.info, folder, checked.formats,
                                           overwrite=overwrite, originality=copied)
        results.append(result)
    return results


def _already_written(folder: Path, one: Draft, request: GenerationRequest, info: ModelInfo) -> bool:
    """Whether ``one`` is on disk already (same request, seed and weights); raises
    `WriteError` if other files hold its name."""
    import json

    taken = taken_paths(folder, [one.seed])
    if not taken:
        return False
    try:
        record = json.loads((folder / f"{draft_stem(one.seed)}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    expected = provenance(one, request, info)
    if record.get("request") == expected["request"] and record.get("weights_sha256") == expected["weights_sha256"]:
        return True
    raise WriteError("already exists and holds another draft (move it, or use another --out)", taken[0])


def generate(request: GenerationRequest | None = None, *, model: LoadedModel | str | None = None,
             prompt: Score | str | os.PathLike | None = None, out: str | os.PathLike | None = None,
             formats: str | Iterable[str] = "mid", overwrite: bool = False,
             policy: OriginalityPolicy | None = None, **fields) -> list[DraftResult]:
    """The Python API's one call: draft ``request`` (or a request of ``fields``, e.g.
    ``bars=8, key="D dorian"``) with ``model`` (a `LoadedModel`, a model folder, or
    None for the shipped model), and write the drafts to ``out`` if given.

    >>> import tunesmith
    >>> results = tunesmith.generate(bars=4, key="G major", programs=["violin"], seed=3)  # doctest: +SKIP
    >>> results[0].draft.score.note_count() > 0                                # doctest: +SKIP
    True
    """
    if request is None:
        request = GenerationRequest(**fields)
    elif fields:
        raise RequestError("give a GenerationRequest or its fields, not both")
    from dataclasses import replace

    given = prompt if isinstance(prompt, Score) else None
    if prompt is not None and given is None:
        request = replace(request, prompt=os.fspath(prompt))
    elif given is not None and not request.prompt:  # infilling needs to know there is one
        request = replace(request, prompt=PROMPT_IN_MEMORY)
    checked = check(request, formats, prompt=given)
    if out is not None and not overwrite:
        check_outputs(checked, out)
    loaded = model if isinstance(model, LoadedModel) else open_model(model)
    return draft(checked, loaded, out, overwrite=overwrite, policy=policy)
