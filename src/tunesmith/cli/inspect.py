"""``tunesmith inspect FILE [--json] [--index N]``: what a music file holds.

Prints, per piece, the tracks (name, GM program, drums, note count, pitch range), tempos,
meters, keys, chord symbols, lyrics, markers, length in seconds and bars, and ticks per quarter. A
tunebook (an ABC file of several tunes) reports every tune, or only tune ``--index N``
(0-based). ``--json`` prints one JSON object: ``{"path", "pieces": [...]}``.
"""
from __future__ import annotations

import json

from .. import gm
from ..harmony.symbols import spelled_chords
from ..io import read, read_pieces
from ..score import PITCH_CLASS_NAMES, Lyric, Score, key_name, lyrics_text

SHOWN = 5
"""How many tempos, meters, keys, lyrics and markers the text report lists."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "inspect", help="show what a music file holds",
        description="Show the tracks, notes, tempos, meters, keys, lyrics and length of a "
                    "MIDI, MusicXML, ABC or **kern file.")
    parser.add_argument("file", help="a .mid .midi .kar .rmi .smf .musicxml .xml .mxl .abc "
                                     "or .krn file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--index", type=int, default=None, metavar="N",
                        help="only piece N (0-based) of a multi-tune file")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.index is not None:
        pieces = [(args.index, read(args.file, index=args.index))]
    else:
        pieces = list(enumerate(read_pieces(args.file)))
    summaries = [summarize(score, index) for index, score in pieces]
    if args.json:
        print(json.dumps({"path": args.file, "pieces": summaries}, ensure_ascii=False))
    else:
        print(args.file)
        for summary in summaries:
            print(format_summary(summary, several=len(summaries) > 1 or args.index is not None))
    return 0


def _note_name(pitch: int) -> str:
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def summarize(score: Score, index: int = 0) -> dict:
    """Everything ``inspect`` reports about one piece, as JSON-ready values."""
    end = score.end_tick()
    bars = int((score.bar_starts(end) < end).sum()) if end > 0 else 0
    tracks = []
    for i, track in enumerate(score.tracks):
        pitches = track.notes["pitch"]
        tracks.append({
            "index": i, "name": track.name, "program": int(track.program),
            "program_name": gm.program_name(gm.DRUMS if track.is_drum else int(track.program)),
            "is_drum": bool(track.is_drum), "notes": int(len(track.notes)),
            "pitch_range": [int(pitches.min()), int(pitches.max())] if len(pitches) else None,
            "lyrics": len(track.lyrics)})
    lyrics = score.all_lyrics()
    return {
        "index": index,
        "title": score.metadata.get("title"),
        "ticks_per_quarter": int(score.ticks_per_quarter),
        "notes": score.note_count(),
        "duration_seconds": round(score.duration_seconds(), 3),
        "bars": bars,
        "tracks": tracks,
        "tempos": [{"tick": int(t), "qpm": round(float(q), 3)} for t, q in score.tempos.tolist()],
        "time_signatures": [{"tick": int(t), "meter": f"{n}/{d}"}
                            for t, n, d in score.time_signatures.tolist()],
        "keys": [{"tick": int(t), "key": key_name(k, m)}
                 for t, k, m in score.key_signatures.tolist()],
        "lyrics": {"count": len(lyrics),
                   "first": [{"tick": lyric.tick, "track": i, "text": lyric.text}
                             for i, lyric in lyrics[:SHOWN]]},
        "markers": [{"tick": m.tick, "text": m.text} for m in score.markers],
        "chords": [{"tick": tick, "symbol": symbol} for tick, symbol in spelled_chords(score)],
        "recovered": score.metadata.get("recovered"),
    }


def _listing(items: list, show) -> str:
    if not items:
        return "none"
    shown = ", ".join(show(item) for item in items[:SHOWN])
    return shown + (f" ... ({len(items)} in all)" if len(items) > SHOWN else "")


def format_summary(s: dict, several: bool = False) -> str:
    """The human-readable report of one piece's ``summarize`` dict."""
    lines = []
    if several:
        lines.append(f"piece {s['index']}" + (f": {s['title']}" if s["title"] else ""))
    elif s["title"]:
        lines.append(f"title: {s['title']}")
    track_count = len(s["tracks"])
    lines.append(f"  {s['notes']} notes in {track_count} track{'s' * (track_count != 1)}; "
                 f"{s['duration_seconds']:.2f} s, {s['bars']} bars; "
                 f"{s['ticks_per_quarter']} ticks per quarter")
    for t in s["tracks"]:
        program = "drums" if t["is_drum"] else f"program {t['program']} ({t['program_name']})"
        pitch = (f", pitch {_note_name(t['pitch_range'][0])}-{_note_name(t['pitch_range'][1])}"
                 if t["pitch_range"] else "")
        lyrics = f", {t['lyrics']} lyrics" if t["lyrics"] else ""
        lines.append(f"  track {t['index']}: {t['name'] or '(unnamed)'}: {program}, "
                     f"{t['notes']} notes{pitch}{lyrics}")
    lines.append("  tempos: " + _listing(s["tempos"], lambda x: f"{x['qpm']:g} qpm at {x['tick']}"))
    lines.append("  meters: " + _listing(s["time_signatures"],
                                         lambda x: f"{x['meter']} at {x['tick']}"))
    lines.append("  keys: " + _listing(s["keys"], lambda x: f"{x['key']} at {x['tick']}"))
    lines.append("  chords: " + _listing(s["chords"], lambda x: f"{x['symbol']} at {x['tick']}"))
    lyric_words = lyrics_text([Lyric(x["tick"], x["text"]) for x in s["lyrics"]["first"]])
    lines.append(f"  lyrics: {s['lyrics']['count']}"
                 + (f" ({lyric_words} ...)" if lyric_words else ""))
    lines.append("  markers: " + _listing(s["markers"], lambda x: f"{x['text']!r} at {x['tick']}"))
    if s["recovered"]:
        lines.append(f"  recovered: {s['recovered']}")
    return "\n".join(lines)
