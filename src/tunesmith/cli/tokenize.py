"""`tunesmith tokenize FILE [--roundtrip] [--json] [--tokenizer TOKENIZER.json]`."""
from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tokenize", help="print a file's tokens, or check an encode/decode round trip",
        description="Print the tokens of a music file; with --roundtrip, encode and decode "
                    "it and report how many notes came back exactly.")
    parser.add_argument("file", help="a MIDI, MusicXML, ABC or **kern file")
    parser.add_argument("--roundtrip", action="store_true",
                        help="report notes, tokens, notes_recovered and max_onset_error_ms")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--tokenizer", metavar="JSON", help="a tokenizer.json (default config otherwise)")
    parser.add_argument("--index", type=int, default=0, help="tune number in a multi-tune file (from 0)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..io import read
    from ..tokenizer import Tokenizer

    tokenizer = Tokenizer.load(args.tokenizer) if args.tokenizer else Tokenizer()
    score = read(args.file, index=args.index)
    if args.roundtrip:
        from ..tokenizer.roundtrip import roundtrip_report

        report = {"file": args.file, **roundtrip_report(tokenizer, score)}
        if args.json:
            print(json.dumps(report))
        else:
            for key, value in report.items():
                print(f"{key:>26}: {value}")
        return 0
    ids = tokenizer.encode(score)
    if args.json:
        print(json.dumps({"file": args.file, "ids": ids.tolist(), "tokens": tokenizer.names(ids)}))
    else:
        print(" ".join(tokenizer.names(ids)))
    return 0
