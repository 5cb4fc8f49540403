"""``tunesmith render FILE --out DIR``: MIDI, MusicXML, audio, stems and a piano roll.

    tunesmith render song.mid --out renders/
    tunesmith render song.mid --format wav,flac --stems --soundfont MyGM.sf2 --out renders/
    tunesmith render song.mid --format wav --vocals take.wav --vocals-offset 1.5 \\
        --vocals-gain -3 --out renders/

Files are named after FILE (``song.mid``, ``song.musicxml``, ``song.wav``,
``song.<track>.wav``, ``song.vocals.wav``, ``song.png``); ``--name`` picks another stem.
Nothing is overwritten unless ``--overwrite``.
"""
from __future__ import annotations

from pathlib import Path

from ..io import read
from ..render import FORMATS, render

DEFAULT_FORMATS = "mid,musicxml,wav,png"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "render", help="write MIDI, MusicXML, WAV/FLAC (with stems) and a piano roll",
        description="Render a music file for DAWs (MIDI), notation editors (MusicXML), "
                    "listening and layering (WAV/FLAC at 44.1 kHz, the backing normalized to "
                    "-16 dBFS RMS with peaks at most -1 dBFS, whatever vocal is layered) and a "
                    "first look (PNG piano roll).")
    parser.add_argument("file", help="a MIDI, MusicXML, ABC or **kern file")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--format", default=DEFAULT_FORMATS, metavar="LIST",
                        help=f"comma-separated, from {','.join(FORMATS)} "
                             f"(default {DEFAULT_FORMATS})")
    parser.add_argument("--stems", action="store_true",
                        help="also write one audio file per track, as long as the mix and "
                             "summing to it")
    parser.add_argument("--soundfont", metavar="SF2",
                        help="SoundFont for audio (default: the GM TimGM6mb.sf2 that ships "
                             "with pretty_midi)")
    parser.add_argument("--vocals", metavar="TAKE",
                        help="a recorded vocal (WAV/FLAC/OGG, any rate or channels) to mix "
                             "over the backing; also written as the 'vocals' stem")
    parser.add_argument("--vocals-offset", type=float, default=0.0, metavar="SECONDS",
                        help="where the take starts on the backing's timeline; negative "
                             "cuts the take's start (default 0)")
    parser.add_argument("--vocals-gain", type=float, default=0.0, metavar="DB",
                        help="gain in dB applied to the take as read (default 0: its own "
                             "level); the vocals stem is exactly that, the backing is "
                             "normalized without it")
    parser.add_argument("--no-normalize", dest="normalize", action="store_false",
                        help="keep the synthesizer's own level (gain 1) instead of "
                             "normalizing the backing to -16 dBFS RMS")
    parser.add_argument("--name", metavar="STEM",
                        help="file-name stem of the outputs (default: FILE's name)")
    parser.add_argument("--index", type=int, default=0, metavar="N",
                        help="piece N (0-based) of a multi-tune file (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run)


def run(args) -> int:
    score = read(args.file, index=args.index)
    paths = render(score, args.format, args.out, stem=args.name or Path(args.file).stem,
                   stems=args.stems, soundfont=args.soundfont, vocals=args.vocals,
                   vocals_offset=args.vocals_offset, vocals_gain_db=args.vocals_gain,
                   overwrite=args.overwrite, progress=True, normalize=args.normalize)
    for group in paths.values():
        for path in group:
            print(path)
    return 0
