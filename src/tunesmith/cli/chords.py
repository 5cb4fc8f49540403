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

from ..harmony.recognise import PER
from ..harmony.report import chord_dicts, chord_segments
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
