"""``tunesmith evaluate``: held-out NLL beside a 4-gram, and objective metrics of drafts."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import RequestError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="held-out NLL against an n-gram baseline; metrics of generated music",
        description="With --data: the NLL per token and per note of the model in --model on "
                    "a held-out split of a prepared corpus, beside an interpolated 4-gram "
                    "fitted on its train split (without --model: the 4-gram alone). With "
                    "--reference and --generated: pitch, rhythm and polyphony metrics of both "
                    "sets and the overlap of their distance distributions (Yang and Lerch, "
                    "2018). Writes evaluation.json (and distributions.png) to --out.")
    nll = parser.add_argument_group("likelihood")
    nll.add_argument("--data", metavar="PREPARED_DIR", help="a prepared corpus (tunesmith prepare)")
    nll.add_argument("--model", metavar="DIR", help="a model folder to score")
    nll.add_argument("--split", choices=("val", "test"), default=None,
                     help="held-out split to score or to take --reference pieces from "
                          "(default: val for --data, test for --reference)")
    nll.add_argument("--batch-size", type=int, default=16, metavar="N",
                     help="windows per batch (default: 16)")
    nll.add_argument("--max-batches", type=int, metavar="N",
                     help="score only the first N batches (default: all)")
    nll.add_argument("--context", type=int, default=1024, metavar="TOKENS",
                     help="window length without --model (default: 1024)")
    nll.add_argument("--smoothing", choices=("kneser-ney", "witten-bell"), default="kneser-ney",
                     help="n-gram smoothing (default: kneser-ney)")
    nll.add_argument("--device", default="auto", help="cpu, cuda, cuda:1... (default: auto)")
    sets = parser.add_argument_group("metrics")
    sets.add_argument("--reference", metavar="DIR",
                      help="real music: a folder of music files or a prepared corpus")
    sets.add_argument("--generated", metavar="DIR", help="a folder of generated music files")
    sets.add_argument("--max-pieces", type=int, metavar="N",
                      help="measure at most N pieces of each set, drawn at random (seed 0)")
    sets.add_argument("--index", metavar="FILE",
                      help="an originality index (tunesmith originality-index): report the "
                           "longest passage each generated piece shares with it")
    # --- masks: harmony ---
    fit = parser.add_argument_group("harmony")
    fit.add_argument("--harmony", metavar="PATH",
                     help="drafts (a file or a folder): chord-tone ratio on strong beats and on all "
                          "notes against their chords, the bass at chord changes, and dissonant "
                          "onsets between parts (see tunesmith.evaluate.harmony)")
    fit.add_argument("--chords", metavar="PROGRESSION",
                     help="with --harmony: the progression the drafts were written over, from bar 1 "
                          "(default: each file's own chord symbols)")
    fit.add_argument("--part", metavar="PROGRAM",
                     help="with --harmony: dissonant onsets of this part against the others "
                          "(default: every part against the others)")
    parser.add_argument("--out", default="evaluation", metavar="DIR",
                        help="output folder (default: ./evaluation)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace evaluation.json and distributions.png in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import write_text

    if args.harmony is not None:
        return _harmony(args)
    if args.data is None and args.reference is None and args.generated is None:
        raise RequestError("give --data (with --model) to score likelihood, or --reference "
                           "and --generated to compare music")
    if (args.reference is None) != (args.generated is None):
        raise RequestError("--reference and --generated go together")
    if args.model and not args.data:
        raise RequestError("--model needs --data: the prepared corpus to score it on")
    if args.batch_size < 1 or (args.max_batches is not None and args.max_batches < 1):
        raise RequestError("--batch-size and --max-batches must be at least 1")
    for name, value in (("--data", args.data), ("--model", args.model), ("--reference", args.reference),
                        ("--generated", args.generated)):
        if value is not None and not Path(value).exists():  # inputs first, then the output
            raise RequestError(f"{name}: no such file or folder", value)
    out = Path(args.out)
    json_path, png_path = out / "evaluation.json", out / "distributions.png"
    targets = [json_path] + ([png_path] if args.reference else [])
    for path in targets:
        if path.exists() and not args.overwrite:
            raise RequestError("already exists (use --overwrite or another --out)", path)
    progress = None if args.quiet else _progress
    result: dict = {}
    if args.data:
        from ..evaluate.nll import evaluate_nll

        result["likelihood"] = evaluate_nll(
            args.data, args.split or "val", model_dir=args.model, batch_size=args.batch_size,
            max_batches=args.max_batches, device=args.device, smoothing=args.smoothing,
            context_length=args.context,
            progress=None if progress is None else lambda it: progress(it, "scoring", "batch"))
        _print_likelihood(result["likelihood"])
    if args.reference:
        result["metrics"] = _compare(args, progress, png_path)
    write_text(json_path, json.dumps(result, indent=2, allow_nan=False) + "\n",
               overwrite=args.overwrite)
    print(f"wrote {json_path}" + (f" and {png_path}" if args.reference else ""))
    return 0


def _compare(args, progress, png_path: Path) -> dict:
    from ..evaluate.metrics import compare_sets, set_metrics
    from ..evaluate.plots import plot_distributions
    from ..evaluate.sets import load_set

    def warn(name: str, reason: str) -> None:
        print(f"tunesmith: warning: {name}: {reason} (skipped)", file=sys.stderr)

    wrap = None if progress is None else (lambda it: progress(it, "reading", "file"))
    sets = {}
    for role, source in (("reference", args.reference), ("generated", args.generated)):
        sets[role] = load_set(source, split=args.split or "test", limit=args.max_pieces,
                              on_skip=warn, progress=wrap)
        if len(sets[role].scores) < 2:
            raise RequestError(f"needs at least two pieces with notes to compare, found "
                               f"{len(sets[role].scores)}", source)
    values = {role: set_metrics(s.scores) for role, s in sets.items()}
    comparison = compare_sets(values["reference"], values["generated"])
    plot_distributions(comparison, png_path, overwrite=args.overwrite)
    report = {key: value for key, value in comparison.items() if not key.startswith("_")}
    for role, s in sets.items():
        report[role] = {"source": s.source, "pieces": len(s.scores),
                        "skipped": [{"name": n, "reason": r} for n, r in s.skipped]}
    if args.index:
        report["originality"] = _originality(args.index, sets["generated"])
    _print_metrics(report)
    return _finite(report)


def _harmony(args) -> int:
    """``--harmony``: one JSON line per draft and one for all of them, on stdout."""
    from ..evaluate.harmony import harmony_report, progression_changes, summarise
    from ..gm import program_from_name
    from ..io import read

    path = Path(args.harmony)
    if not path.exists():
        raise RequestError("--harmony: no such file or folder", path)
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".mid", ".midi", ".musicxml", ".mxl",
                                                                     ".xml")) if path.is_dir() else [path]
    if not files:
        raise RequestError("--harmony: no MIDI or MusicXML files in the folder", path)
    program = program_from_name(args.part) if args.part else None
    reports = []
    for file in files:
        score = read(file)
        chords = progression_changes(score, args.chords) if args.chords else None
        part = None
        if program is not None:
            part = next((i for i, t in enumerate(score.tracks) if t.program == program and not t.is_drum), None)
            if part is None:
                raise RequestError(f"--part {args.part}: no such part in the file", file)
        report = {"file": str(file), **harmony_report(score, chords, part)}
        reports.append(report)
        print(json.dumps(report))
    print(json.dumps({"files": len(reports), **summarise(reports)}))
    return 0


def _originality(index_path: str, generated) -> dict:
    from ..evaluate.originality import OriginalityIndex, check_originality

    index = OriginalityIndex.load(index_path)
    drafts = [{"name": name, **check_originality(score, index)}
              for name, score in zip(generated.names, generated.scores)]
    longest = max(drafts, key=lambda d: d["longest_bars"])
    print(f"originality: longest shared passage {longest['longest_bars']} bars "
          f"({longest['longest_notes']} notes) in {longest['name']}, from {longest['piece']}")
    return {"index": index_path, "corpus": index.corpus, "drafts": drafts,
            "longest_bars_max": longest["longest_bars"],
            "longest_bars_mean": round(sum(d["longest_bars"] for d in drafts) / len(drafts), 3)}


def _finite(value):
    """NaN and infinity (a metric undefined for a set) as JSON null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not (value == value and abs(value) != float("inf")):
        return None
    return value


def _progress(iterable, desc: str, unit: str):
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, unit=unit, leave=False, file=sys.stderr)


def _print_likelihood(r: dict) -> None:
    print(f"{r['split']}: {r['tokens']:,} tokens, {r['notes']:,} notes, {r['windows']} windows")
    rows = [("4-gram" if r["ngram"]["order"] == 4 else f"{r['ngram']['order']}-gram", r["ngram"])]
    if "model" in r:
        rows.insert(0, ("model", r["model"]))
    print(f"  {'':8} {'nats/token':>11} {'bits/token':>11} {'nats/note':>10}")
    for label, s in rows:
        print(f"  {label:8} {s['nll_per_token']:11.4f} {s['bits_per_token']:11.4f} "
              f"{s['nll_per_note']:10.3f}")
    if "ratio" in r:
        print(f"  model / n-gram NLL per token: {r['ratio']:.3f}")


def _print_metrics(report: dict) -> None:
    print(f"{'metric':22} {'reference':>17} {'generated':>17} {'OA':>6} {'KL':>7}")
    for name, m in report["metrics"].items():
        def cell(role):
            mean, std = m[f"{role}_mean"], m[f"{role}_std"]
            return "-" if mean is None else f"{mean:.3f} ± {std:.3f}"
        oa = "-" if m["oa"] is None else f"{m['oa']:.3f}"
        kl = "-" if m["kl"] is None else f"{m['kl']:.3f}"
        print(f"{name:22} {cell('reference'):>17} {cell('generated'):>17} {oa:>6} {kl:>7}")
    if report["mean_oa"] is not None:
        print(f"mean overlapping area {report['mean_oa']:.3f}")
