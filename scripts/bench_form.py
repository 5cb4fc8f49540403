"""Form and phrasing of one-voice melody drafts against held-out real tunes.

Three steps, each printing one JSON line::

    .venv/bin/python scripts/bench_form.py reference --source HELD_OUT_MIDI/ --out ref16/
    .venv/bin/python scripts/bench_form.py draft --num 200 --top-p 0.95 --out drafts/
    .venv/bin/python scripts/bench_form.py measure --reference ref16/ --generated drafts/

``reference`` cuts each real tune to its first ``--bars`` bars (16) and writes it as
MIDI; ``draft`` writes ``--num`` one-voice 16-bar drafts (a flute, at most one note
sounding, no key: the model's own choices) under the sampler settings given;
``measure`` reports Yang and Lerch's overlapping areas (`tunesmith evaluate`'s
comparison), each metric's mean against the reference's spread, the loops (drafts
that repeat more than half their bars note for note), the most bars of one draft that
copy an earlier bar, and how often a phrase's last bar (every fourth) breathes: holds
a note of a quarter or more, or a rest of an eighth or more.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import tunesmith
from tunesmith.evaluate.metrics import compare_sets, set_metrics
from tunesmith.evaluate.sets import load_set
from tunesmith.sample.ranking import LOOP_SHARE, repeated_bar_share

SPREAD_METRICS = ("empty_beat_rate", "scale_consistency", "inter_onset_interval")
"""The metrics the issue asks to be within the real tunes' spread (mean +- one std)."""


def crop(score, bars: int):
    """The first ``bars`` bars of ``score`` (notes cut at the last barline), one track."""
    starts = score.bar_starts(until_tick=score.end_tick() + 32 * score.ticks_per_quarter)
    end = int(starts[min(bars, len(starts) - 1)])
    out = score.copy()
    out.tracks = [t for t in out.tracks if not t.is_drum][:1]
    for track in out.tracks:
        notes = track.notes[track.notes["onset"] < end].copy()
        notes["duration"] = np.minimum(notes["duration"], end - notes["onset"])
        track.notes = notes
        track.lyrics = []
    return out


def bar_notes(score) -> list[tuple]:
    """Each bar's notes as a tuple of (part, pitch, place in the bar, length)."""
    starts = list(score.bar_starts()) + [score.end_tick() + 1]
    return [tuple(sorted((i, int(n["pitch"]), int(n["onset"]) - a, int(n["duration"]))
                         for i, t in enumerate(score.tracks) for n in t.notes if a <= n["onset"] < b))
            for a, b in zip(starts[:-1], starts[1:])]


def repeated_bars(score) -> int:
    """Bars with notes that copy an earlier bar note for note."""
    seen, count = set(), 0
    for bar in bar_notes(score):
        if bar:
            count += bar in seen
            seen.add(bar)
    return count


def breath_rate(score, every: int = 4) -> tuple[int, int]:
    """(phrase-end bars that breathe, phrase-end bars): bars every, 2 * every ...
    holding a note of a quarter or more or a rest of an eighth or more."""
    tpq = score.ticks_per_quarter
    starts = list(score.bar_starts()) + [score.end_tick()]
    notes = np.concatenate([t.notes for t in score.tracks if not t.is_drum] or [np.zeros(0)])
    good = total = 0
    for b in range(every - 1, len(starts) - 1, every):
        a, z = starts[b], starts[b + 1]
        inside = notes[(notes["onset"] >= a) & (notes["onset"] < z)]
        total += 1
        if len(inside) and (inside["duration"] >= tpq).any():
            good += 1
            continue
        before = notes[notes["onset"] < z]
        ends = np.sort(before["onset"] + before["duration"])
        onsets = np.sort(inside["onset"]) if len(inside) else np.array([], dtype=np.int64)
        sounding_end = np.maximum.accumulate(ends) if len(ends) else ends
        gaps = [z - (sounding_end[-1] if len(sounding_end) else a)]
        for onset in onsets:
            prior = (before["onset"] < onset)
            end = int((before["onset"][prior] + before["duration"][prior]).max()) if prior.any() else a
            gaps.append(onset - max(end, a))
        good += max(gaps) >= tpq // 2
    return good, total


def cmd_reference(args) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pieces = load_set(args.source)
    for name, score in zip(pieces.names, pieces.scores):
        tunesmith.write(crop(score, args.bars), out / (Path(name).stem + ".mid"), overwrite=True)
    return {"reference": str(out), "pieces": len(pieces.scores), "skipped": len(pieces.skipped)}


def cmd_draft(args) -> dict:
    import torch

    from tunesmith.drafts import load_model
    from tunesmith.sample import GenerationRequest, generate

    torch.set_num_threads(args.threads)
    model, tok, _ = load_model(None)
    limit = None if args.max_repeated_bars in (None, "none") else int(args.max_repeated_bars)
    request = GenerationRequest(bars=args.bars, programs=["flute"], max_polyphony=1, num_samples=args.num,
                                seed=args.seed, top_p=args.top_p, temperature=args.temperature,
                                min_p=args.min_p, max_repeated_bars=limit, phrase_bars=args.phrase_bars,
                                chromatic=args.chromatic)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    began, written = time.time(), 0
    for start in range(0, args.num, args.chunk):  # written as they come: a long run can be cut short
        seed = args.seed + start
        if all((out / f"draft-s{seed + i}.mid").exists() for i in range(min(args.chunk, args.num - start))):
            continue
        chunk = replace(request, seed=seed, num_samples=min(args.chunk, args.num - start))
        for draft in generate(model, tok, chunk):
            tunesmith.write(draft.score, out / f"draft-s{draft.seed}.mid", overwrite=True)
            written += 1
        print(json.dumps({"written": written, "seconds": round(time.time() - began, 1)}), file=sys.stderr, flush=True)
    return {"drafts": args.num, "seconds": round(time.time() - began, 1), "request": request.to_dict()}


def cmd_measure(args) -> dict:
    reference = load_set(args.reference)
    generated = load_set(args.generated)
    report = compare_sets(set_metrics(reference.scores), set_metrics(generated.scores))
    report.pop("_densities")
    spread = {}
    for name in SPREAD_METRICS:
        m = report["metrics"][name]
        low, high = m["reference_mean"] - m["reference_std"], m["reference_mean"] + m["reference_std"]
        spread[name] = {"generated": m["generated_mean"], "reference": m["reference_mean"],
                        "reference_std": m["reference_std"], "within": bool(low <= m["generated_mean"] <= high)}
    summary = {}
    for label, pieces in (("reference", reference), ("generated", generated)):
        repeats = [repeated_bars(s) for s in pieces.scores]
        breaths = np.array([breath_rate(s) for s in pieces.scores])
        summary[label] = {
            "pieces": len(pieces.scores),
            "loops": int(sum(repeated_bar_share(s) > LOOP_SHARE for s in pieces.scores)),
            "repeated_bars_mean": round(float(np.mean(repeats)), 2),
            "repeated_bars_p90": float(np.percentile(repeats, 90)),
            "repeated_bars_max": int(max(repeats)),
            "phrase_ends_breathing": round(float(breaths[:, 0].sum() / max(breaths[:, 1].sum(), 1)), 3)}
    return {"mean_oa": report["mean_oa"], "spread": spread, **summary,
            "oa": {k: v["oa"] for k, v in report["metrics"].items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ref = sub.add_parser("reference")
    ref.add_argument("--source", required=True)
    ref.add_argument("--bars", type=int, default=16)
    ref.add_argument("--out", required=True)
    draft = sub.add_parser("draft")
    draft.add_argument("--num", type=int, default=200)
    draft.add_argument("--bars", type=int, default=16)
    draft.add_argument("--seed", type=int, default=0)
    draft.add_argument("--top-p", type=float, default=0.95)
    draft.add_argument("--temperature", type=float, default=1.0)
    draft.add_argument("--min-p", type=float, default=0.0)
    draft.add_argument("--max-repeated-bars", default="none")
    draft.add_argument("--phrase-bars", type=int, default=0)
    draft.add_argument("--chromatic", action="store_true")
    draft.add_argument("--threads", type=int, default=2)
    draft.add_argument("--chunk", type=int, default=25, help="drafts per call (each chunk is written at once)")
    draft.add_argument("--out", required=True)
    measure = sub.add_parser("measure")
    measure.add_argument("--reference", required=True)
    measure.add_argument("--generated", required=True)
    args = parser.parse_args(argv)
    result = {"reference": cmd_reference, "draft": cmd_draft, "measure": cmd_measure}[args.command](args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
