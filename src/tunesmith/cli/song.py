"""`tunesmith song WORDS.txt`: a song for these words, with a lead sheet to sing from.

Writes, for each song drafted (seed S): ``song-sS.musicxml`` (the lead sheet: melody,
words with verses, chord symbols, section names), ``song-sS.mid`` (the song played
through: melody with lyric events, accompaniment), ``song-sS.wav`` with one stem per
part (guide melody, accompaniment) and ``song-sS.png`` (piano roll with the words), as
``--format`` asks. See `tunesmith.lyrics.song`.
"""
from __future__ import annotations

from pathlib import Path

DEFAULT_FORMATS = "mid,musicxml"


def register(subparsers) -> None:
    from ..lyrics.song import ACCOMPANIMENTS, SONG_METER, SONG_TEMPO, VOICES

    p = subparsers.add_parser(
        "song", help="a song for these words: melody, accompaniment and a lead sheet",
        description="Set a song's words (one line a phrase, blank lines between sections, "
                    "[Verse]/[Chorus]/[Bridge] tags optional): stressed syllables on strong beats, "
                    "a breath after every line, a chorus sung again to the same notes.")
    p.add_argument("words", metavar="WORDS.txt", help="the words, UTF-8 text")
    p.add_argument("--lang", default="en", help="language of the words: en, de, fr, es, it, pt, nl ... (default en)")
    p.add_argument("--key", default="C major", help='key and mode (default "C major")')
    p.add_argument("--time-signature", default=SONG_METER, help=f"meter (default {SONG_METER})")
    p.add_argument("--tempo", type=float, default=SONG_TEMPO,
                   help=f"quarter notes per minute (default {SONG_TEMPO:g}: at most 4 syllables a second)")
    p.add_argument("--chords", help='chords to sing over, e.g. "C G Am F" (one a bar), or "auto"')
    p.add_argument("--voice", default="soprano",
                   help=f"{', '.join(VOICES)} or a range LOW-HIGH (default soprano {VOICES['soprano']})")
    p.add_argument("--accompaniment", default="piano", choices=list(ACCOMPANIMENTS),
                   help="instruments written against the melody (default piano)")
    p.add_argument("--prompt", metavar="MELODY", help="set the words to this melody (MIDI, MusicXML, ABC) instead")
    p.add_argument("--model", help="a model folder (default: the shipped default model)")
    p.add_argument("--seed", type=int, default=0, help="song i uses seed SEED+i")
    p.add_argument("--num-samples", type=int, default=1, help="songs to draft")
    p.add_argument("--format", default=DEFAULT_FORMATS, help="comma list of mid,musicxml,wav,flac,png")
    p.add_argument("--device", default="cpu", help="cpu, cuda ...")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import RequestError, WriteError
    from ..lyrics.song import SongSettings, check_settings, draft_songs
    from ..lyrics.text import read_words

    settings = SongSettings(lang=args.lang, key=args.key, time_signature=args.time_signature,
                            tempo=args.tempo, chords=args.chords, voice=args.voice,
                            accompaniment=args.accompaniment, seed=args.seed,
                            num_samples=args.num_samples, prompt=args.prompt)
    sections = read_words(args.words, args.lang)
    meter = check_settings(settings)
    if not args.prompt:
        from ..lyrics.song import song_plan

        song_plan(sections, settings, meter)  # too long for one draft: say so before loading
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    unknown = sorted(set(formats) - {"mid", "musicxml", "wav", "flac", "png"})
    if unknown:
        raise RequestError(f"unknown format {unknown[0]!r}: use mid, musicxml, wav, flac, png")
    if args.num_samples < 1:
        raise RequestError("num_samples must be at least 1")
    out = Path(args.out)
    stems = [f"song-s{args.seed + i}" for i in range(args.num_samples)]
    if not args.overwrite:
        taken = [p for stem in stems for p in out.glob(f"{stem}.*")]
        if taken:
            raise WriteError("already exists (use --overwrite, another --seed or another --out)", taken[0])
    prompt = None
    if args.prompt:
        from ..io import read

        prompt = read(args.prompt)
    from ..pipeline import open_model

    loaded = open_model(args.model, args.device)
    for song in draft_songs(loaded, sections, settings, meter, prompt):
        for path in write_song(song, out, formats, Path(args.words).stem, overwrite=args.overwrite):
            print(path)
    return 0


def write_song(song, out: Path, formats: list[str], title: str, overwrite: bool = False) -> list[Path]:
    """Write one song's files (see the module docstring); return their paths."""
    from .. import render
    from ..lyrics.leadsheet import write_lead_sheet

    stem = f"song-s{song.seed}"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    others = [f for f in formats if f != "musicxml"]
    if others:
        audio = any(f in ("wav", "flac") for f in others)
        written = render(song.score, others, out, stem=stem, stems=audio, overwrite=overwrite)
        paths += [p for group in written.values() for p in group]
    if "musicxml" in formats:
        path = out / f"{stem}.musicxml"
        form = " - ".join(section.name for section in song.sections)
        write_lead_sheet(song.sheet, song.sheet_words, path, title=title, form=form, overwrite=overwrite)
        paths.append(path)
    return paths
