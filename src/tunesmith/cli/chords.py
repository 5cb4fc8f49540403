"""``tunesmith chords FILE [--per beat|half|bar] [--json] [--recognise]``: a piece's chords.

The file's own chord symbols (MusicXML ``<harmony>``, ABC ``"Am"``, MIDI chord markers)
when it has them, else chords recognised from its notes (`tunesmith.harmony.recognise`)
on its meter grid, at most one per beat, half bar or bar. ``--json`` prints
``{"path", "source": "file"|"recognised", "chords": [{"start", "end", "start_beat",
"symbol", "harte"}]}`` with times in seconds and ``start_beat`` in quarter notes from
the start of the piece.
"""
from __future__ import annotations

import json

from ..harmony.recognise import PER, recognise_score
from ..harmony.symbols import flats_at, table_chords
from ..errors import TunesmithError
from ..io import read


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "chords", help="name the chords of a music file",
        description="Print a piece's chord symbols: the file's own, else recognised from "
                    "its notes.")
    parser.add_argument("file", help="a MIDI, MusicXML, ABC or **kern file")
    parser.add_argument("--per", choices=PER, default="beat",
                        help="recognise at most one chord per beat, half bar or bar "
                             "(default: beat)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--recognise", action="store_true",
                        help="recognise chords even when the file has its own symbols")
    parser.set_defaults(func=run)


def chord_segments(score, per: str = "beat", recognise: bool = False
                   ) -> tuple[str, list[tuple[int, int, object]]]:
    """("file" or "recognised", [(start tick, end tick, Chord)]) for a Score."""
    if len(score.chords) and not recognise:
        rows = table_chords(score.chords[score.chords["tick"].argsort(kind="stable")])
        end = max(score.end_tick(), rows[-1][0] + score.ticks_per_quarter)
        ends = [tick for tick, _ in rows[1:]] + [end]
        return "file", [(tick, stop, chord) for (tick, chord), stop in zip(rows, ends)]
    return "recognised", recognise_score(score, per)


def chord_dicts(score, segments) -> list[dict]:
    """JSON-ready chords: start and end in seconds, start_beat in quarter notes from the
    start, symbol (spelled in the key in force) and Harte label (as ``tunesmith chords
    --json`` and drafts' .json)."""
    if not segments:
        return []
    starts = score.ticks_to_seconds([s for s, _, _ in segments])
    ends = score.ticks_to_seconds([e for _, e, _ in segments])
    flats = flats_at(score, [s for s, _, _ in segments])
    return [{"start": round(float(a), 3), "end": round(float(b), 3),
             "start_beat": round(tick / score.ticks_per_quarter, 3),
             "symbol": chord.symbol(flat), "harte": chord.harte()}
            for a, b, (tick, _, chord), flat in zip(starts, ends, segments, flats)]


def run(args) -> int:
    score = read(args.file)
    try:
        source, segments = chord_segments(score, args.per, args.recognise)
    except TunesmithError as exc:  # e.g. a damaged file's endless notes: name the file
        raise type(exc)(exc.reason, args.file) from None
    chords = chord_dicts(score, segments)
    if args.json:
        print(json.dumps({"path": args.file, "source": source, "chords": chords},
                         ensure_ascii=False))
        return 0
    print(f"{args.file}: {len(chords)} chords ({source})")
    for chord in chords:
        print(f"  {chord['start']:8.2f} s  beat {chord['start_beat']:7.2f}  {chord['symbol']}")
    return 0
