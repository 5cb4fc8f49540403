"""`tunesmith generate`: drafts from a model under a request's constraints.

Each kept draft is written as ``<out>/draft-s<SEED>.<format>`` for each ``--format``
and ``draft-s<SEED>.json`` holding the full request, the seed, the model's id and the
draft's score, so ``--seed SEED --num-samples 1`` with the same request reproduces it.
Nothing is overwritten unless ``--overwrite`` is given.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_FORMATS = "mid"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate", help="draft music with a model (new, continued or infilled)",
        description="Draft music under constraints: bars, key, meter, tempo, instruments, "
                    "range, polyphony and density are guaranteed, not hoped for.")
    p.add_argument("--model", help="a model folder (default: the shipped default model)")
    p.add_argument("--prompt", metavar="FILE", help="a MIDI/MusicXML/ABC file to continue or infill")
    p.add_argument("--infill", metavar="A-B", help="regenerate bars A to B of the prompt (from 1, inclusive)")
    p.add_argument("--infill-track", metavar="PROGRAM",
                   help="write a part for this instrument (e.g. 'acoustic bass') against the prompt")
    p.add_argument("--bars", type=_bars, default=8,
                   help="bars to write (default 8; after the prompt when continuing), or 'auto' to "
                        "let the model end the piece (1 to 64 bars)")
    p.add_argument("--key", help='key and mode, e.g. "D dorian", "F# minor"')
    p.add_argument("--time-signature", help="meter, e.g. 3/4")
    p.add_argument("--tempo", type=float, help="quarter notes per minute")
    p.add_argument("--program", action="append", default=[], metavar="NAME",
                   help="instrument of a track, GM name or number; repeat for several tracks")
    p.add_argument("--range", dest="pitch_range", metavar="LOW-HIGH", help="pitch range, e.g. C4-C6")
    p.add_argument("--chromatic", action="store_true",
                   help="with --key, allow out-of-scale passing notes (at most an eighth long)")
    p.add_argument("--max-polyphony", type=int, help="most notes sounding at once")
    p.add_argument("--notes-per-bar", metavar="MIN-MAX", help="notes per bar, all tracks together")
    p.add_argument("--lyrics", metavar="TEXT",
                   help='words to set, one note per syllable, syllables joined by "-": '
                        '"Twin-kle twin-kle lit-tle star" (the words set the length)')
    p.add_argument("--pickup", action="store_true",
                   help="a new piece may open with an anacrusis (by default bar 1 starts on its downbeat)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0, help="0 = off")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus mass; 1 = off")
    p.add_argument("--min-p", type=float, default=0.0, help="0 = off")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="on recent pitches; 1 = off")
    p.add_argument("--seed", type=int, default=0, help="draft i uses seed SEED+i")
    p.add_argument("--num-samples", type=int, default=1, help="drafts to write")
    p.add_argument("--keep", type=int, help="keep the K best by mean log-likelihood, near-duplicates removed")
    p.add_argument("--originality-index", metavar="NPZ",
                   help="index of the training melodies (default: the model folder's originality.npz)")
    p.add_argument("--max-copied-bars", type=float, default=4.0,
                   help="warn when a draft shares more bars than this with a training piece (default 4)")
    p.add_argument("--original-only", action="store_true",
                   help="drop drafts that copy more than --max-copied-bars")
    p.add_argument("--format", default=DEFAULT_FORMATS, help="comma list of mid,musicxml,wav,flac,png")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    p.add_argument("--compile", action="store_true",
                   help="on a GPU, fuse the decoding step with torch.compile: about a minute "
                        "once, then faster; for hundreds of drafts")
    p.add_argument("--json", action="store_true", help="print one JSON line per draft")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def _bars(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bars or 'auto'") from None


def _notes_per_bar(text: str | None):
    if not text:
        return None
    from ..errors import RequestError

    parts = text.replace(" ", "").split("-")
    try:
        low, high = (int(parts[0]), int(parts[-1]))
    except ValueError:
        raise RequestError(f"bad --notes-per-bar {text!r}: use MIN-MAX, e.g. 4-12") from None
    return low, high


def build_request(args):
    from ..sample import GenerationRequest

    programs = [p.strip() for item in args.program for p in item.split(",") if p.strip()]
    return GenerationRequest(
        bars=None if args.lyrics else args.bars, key=args.key, time_signature=args.time_signature, tempo=args.tempo,
        programs=programs, pitch_range=args.pitch_range, chromatic=args.chromatic,
        max_polyphony=args.max_polyphony, notes_per_bar=_notes_per_bar(args.notes_per_bar),
        pickup=args.pickup, lyrics=args.lyrics,
        prompt=args.prompt, infill_bars=args.infill, infill_program=args.infill_track,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, min_p=args.min_p,
        repetition_penalty=args.repetition_penalty, seed=args.seed,
        num_samples=args.num_samples, keep=args.keep)


def run(args) -> int:
    from ..errors import WriteError
    from ..sample import resolve
    from ..drafts import load_index, load_model, write_draft
    from ..evaluate.originality import check_originality

    request = build_request(args)
    resolve(request)  # a malformed request fails before the model loads
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    out = Path(args.out)
    stems = [f"draft-s{request.seed + i}" for i in range(request.num_samples)]
    if not args.overwrite:
        taken = [p for stem in stems for p in out.glob(f"{stem}.*")]
        if taken:
            raise WriteError("already exists (use --overwrite, another --seed or another --out)", taken[0])
    prompt = None
    if request.prompt:
        from ..io import read

        prompt = read(request.prompt)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        from ..errors import RequestError

        raise RequestError(f"--device {args.device}: this torch build sees no CUDA GPU "
                           "(install a CUDA build of torch, see README)")
    if args.device == "cpu":

        # A token's step is a few small matrix-vector products: beyond two threads
        # they only wait on each other (and on a busy machine even two can stall).
        torch.set_num_threads(min(2, torch.get_num_threads()))
    model, tokenizer, model_info = load_model(args.model, args.device)

    from ..sample import generate

    bar = _progress(request.num_samples)
    drafts = generate(model, tokenizer, request, prompt=prompt, progress=bar.update_to if bar else None,
                      compile=args.compile)
    if bar:
        bar.close()
    index = load_index(args.originality_index, model_info)
    for draft in drafts:
        copied = check_originality(draft.generated, index) if index else None
        if copied and copied["longest_bars"] > args.max_copied_bars:
            action = "dropped" if args.original_only else "kept"
            print(f"tunesmith: warning: draft seed {draft.seed} shares {copied['longest_bars']:.1f} bars "
                  f"with training piece {copied['piece']} ({action})", file=sys.stderr)
            if args.original_only:
                continue
        paths = write_draft(draft, request, model_info, out, formats, overwrite=args.overwrite,
                            originality=copied)
        if args.json:
            print(json.dumps({"seed": draft.seed, "files": [str(p) for p in paths],
                              "mean_log_likelihood": round(draft.mean_log_likelihood, 4),
                              "bars": int(len(draft.score.bar_starts())),
                              "notes": draft.score.note_count()}))
        else:
            print(f"{paths[0]}  (log-likelihood {draft.mean_log_likelihood:.3f}/token, "
                  f"{draft.score.note_count()} notes)")
    return 0


def _progress(total: int):
    """A tqdm bar on stderr for long batches (None for a single draft or a non-terminal)."""
    if total < 8 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    class Bar(tqdm):
        def update_to(self, done):
            self.update(done - self.n)

    return Bar(total=total, unit="draft", desc="drafting")
