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
    p.add_argument("--tempo", metavar="BPM",
                   help="beats per minute of a quarter note, or of a dotted quarter in "
                        "6/8, 9/8, 12/8; or with its unit: '72 dotted-quarter', '60 half', "
                        "'q=96' (drafts record quarter notes per minute, qpm)")
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
    p.add_argument("--top-p", type=float, default=1.0,
                   help="nucleus mass; 1 = off (the default: measured against held-out tunes, top-p 0.95 "
                        "cut the rests and accidentals that make a tune breathe)")
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
    # --- small: dynamics ---
    p.add_argument("--dynamics", choices=("shaped", "flat"), default="shaped",
                   help="shaped (default): accents by meter, phrases that swell and taper, "
                        "accompaniment under the melody; flat: every new note as drafted")
    # --- small: audio prompt ---
    p.add_argument("--prompt-audio", metavar="TAKE",
                   help="a recording of one melodic line (sung, hummed, played; WAV/FLAC/OGG) "
                        "to use as the prompt; --tempo and --time-signature guide how its "
                        "notes are quantised (default: its tempo is heard, 4/4)")
    # --- masks: harmony and idioms ---
    p.add_argument("--chords", metavar="PROGRESSION",
                   help='chords to write over, one a bar: "C G Am F"; "|" between bars that hold '
                        'several (they split the bar evenly): "C G/B | Am | F G7"; repeats over longer '
                        'drafts; "auto": the model chooses and the draft reports them')
    p.add_argument("--chords-from", metavar="FILE",
                   help="write over the chords of this file (its chord symbols, else recognised)")
    p.add_argument("--end-on-tonic", action=argparse.BooleanOptionalAction, default=None,
                   help="end the last bar on the tonic chord (default: on for new drafts with "
                        "--key and no --chords)")
    p.add_argument("--drum-kit", choices=("gm", "all"), default="gm",
                   help="gm (default): drums play General MIDI kit pieces only; all: any drum key")
    # --- form ---
    p.add_argument("--form", metavar="SECTIONS",
                   help='sections, e.g. "AABA" (with --bars 32), "A8 A8 B8 A8" or "verse8 chorus8 verse '
                        'chorus": the same name is the same music, a new name new material')
    p.add_argument("--vary", action="store_true",
                   help="with --form, a repeated section keeps its rhythm and gets new pitches")
    p.add_argument("--max-repeated-bars", type=_repeats, default=8, metavar="N",
                   help="most bars of any 16 that may copy an earlier bar note for note (default 8; "
                        "'off' allows loops)")
    p.add_argument("--phrase-bars", type=int, default=4, metavar="N",
                   help="every Nth bar ends a phrase on a long note or a rest (default 4; 0 = off)")
    p.set_defaults(func=run)


def _repeats(text: str) -> int | None:
    if text.strip().lower() in ("off", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bars or 'off'") from None


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
        bars=None if args.lyrics else args.bars, key=args.key, time_signature=args.time_signature,
        tempo=_tempo(args),
        programs=programs, pitch_range=args.pitch_range, chromatic=args.chromatic,
        max_polyphony=args.max_polyphony, notes_per_bar=_notes_per_bar(args.notes_per_bar),
        pickup=args.pickup, lyrics=args.lyrics,
        prompt=args.prompt, infill_bars=args.infill, infill_program=args.infill_track,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, min_p=args.min_p,
        repetition_penalty=args.repetition_penalty, seed=args.seed,
        num_samples=args.num_samples, keep=args.keep, dynamics=args.dynamics,
        prompt_audio=args.prompt_audio,
        max_repeated_bars=args.max_repeated_bars, phrase_bars=args.phrase_bars, form=args.form,
        vary=args.vary, **_harmony_fields(args))


def _harmony_fields(args) -> dict:
    """The request fields of the harmony and idioms options."""
    return dict(chords=args.chords, chords_from=args.chords_from, end_on_tonic=args.end_on_tonic,
                drum_kit=args.drum_kit)


def _tempo(args) -> float | None:
    """``--tempo`` as quarter notes per minute (see `tunesmith.sample.tempo`)."""
    if args.tempo is None:
        return None
    from ..sample.request import parse_time_signature
    from ..sample.tempo import parse_tempo

    meter = parse_time_signature(args.time_signature) if args.time_signature else None
    return parse_tempo(args.tempo, meter)


def run(args) -> int:
    from ..pipeline import OriginalityPolicy, check, check_outputs, draft, open_model

    checked = check(build_request(args), args.format)  # request, prompt and formats, before the model
    if not args.overwrite:
        check_outputs(checked, args.out)
    policy = OriginalityPolicy(args.max_copied_bars, args.original_only)  # checked before the model
    loaded = open_model(args.model, args.device, args.originality_index)
    bar = _progress(checked.request.num_samples)
    results = draft(checked, loaded, args.out, overwrite=args.overwrite, policy=policy,
                    progress=bar.update_to if bar else None, compile=args.compile,
                    warn=lambda message: print(f"tunesmith: warning: {message}", file=sys.stderr))
    if bar:
        bar.close()
    for result in results:
        if result.dropped:
            continue
        one, paths = result.draft, result.paths
        if args.json:
            print(json.dumps({"seed": one.seed, "files": [str(p) for p in paths],
                              "mean_log_likelihood": round(one.mean_log_likelihood, 4),
                              "bars": int(len(one.score.bar_starts())),
                              "notes": one.score.note_count()}))
        else:
            print(f"{paths[0]}  (log-likelihood {one.mean_log_likelihood:.3f}/token, "
                  f"{one.score.note_count()} notes, {_tempo_text(one.score)})")
    return 0


def _tempo_text(score) -> str:
    """The draft's first meter and tempo as a musician counts it: ``6/8 at 72
    dotted-quarter bpm (108 qpm)``."""
    from ..sample.tempo import describe_tempo

    num, den = (int(x) for x in score.meter_map()[["numerator", "denominator"]][0].tolist())
    return f"{num}/{den} at {describe_tempo(float(score.tempo_map()['qpm'][0]), (num, den))}"


def _progress(total: int):
    """A tqdm bar on stderr for long batches (None for a single draft or a non-terminal)."""
    if total < 8 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    class Bar(tqdm):
        def update_to(self, done):
            self.update(done - self.n)

    return Bar(total=total, unit="draft", desc="drafting")
