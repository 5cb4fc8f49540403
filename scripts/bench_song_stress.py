"""How words sit in melodies: real English songs, `tunesmith song`, and `generate --lyrics`.

Prints one JSON line per set: the share of the primary stresses of words of two or
more syllables that fall on a strong beat (downbeat or beat 3 of 4/4, see
`tunesmith.lyrics.measure`), the same share for unstressed syllables (chance is about
a quarter in busy 4/4 lines), line ends followed by a rest, and syllables a second.

    .venv/bin/python scripts/bench_song_stress.py --lieder 21 --drafts 3
"""
from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

LIEDER = Path("/work/shared/corpus/open/lieder")
ENGLISH_COMPOSERS = ["Abbott,_Jane_Bingham", "Abrams,_Harriett", "Arne,_Thomas", "Barnard,_Charlotte_Alington",
                     "Barnby,_Joseph", "Barns,_Ethel", "Beach,_Amy"]

TEXTS = {
    "en": [
        "[Verse]\nMorning comes across the water\nLight is on the open sea\nEvery boat is turning homeward\n"
        "Every sailor longs to be\n\n[Chorus]\nSing it out and sing it loud\nCarry me home\n",
        "[Verse]\nWho has seen the wind\nNeither I nor you\nBut when the leaves hang trembling\n"
        "The wind is passing through\n\n[Chorus]\nWho has seen the wind\nNeither you nor I\n",
        "[Verse]\nI have a little shadow that goes in and out with me\nAnd what can be the use of him "
        "is more than I can see\n\n[Chorus]\nHe is very very like me from the heels up to the head\n"
        "And I see him jump before me when I jump into my bed\n",
        "[Verse]\nTiger tiger burning bright\nIn the forests of the night\nWhat immortal hand or eye\n"
        "Could frame thy fearful symmetry\n",
    ],
    "de": [
        "[Strophe]\nDer Mond ist aufgegangen\ndie goldnen Sternlein prangen\nam Himmel hell und klar\n\n"
        "[Refrain]\nDer Wald steht schwarz und schweiget\nund aus den Wiesen steiget\nder weiße Nebel wunderbar\n",
        "[Strophe]\nSah ein Knab ein Röslein stehn\nRöslein auf der Heiden\nwar so jung und morgenschön\n"
        "lief er schnell es nah zu sehn\n\n[Refrain]\nRöslein Röslein Röslein rot\nRöslein auf der Heiden\n",
        "[Strophe]\nDas Wandern ist des Müllers Lust\ndas Wandern\nDas muss ein schlechter Müller sein\n"
        "dem niemals fiel das Wandern ein\n",
        "[Strophe]\nKein schöner Land in dieser Zeit\nals hier das unsre weit und breit\nwo wir uns finden\n"
        "wohl unter Linden\nzur Abendzeit\n",
    ],
}


def lieder(count: int) -> dict:
    """Stress on strong beats in ``count`` real English songs of the Lieder corpus."""
    from music21 import converter

    from tunesmith.lyrics.measure import StressCounts, count_stresses
    from tunesmith.lyrics.plan import Meter
    from tunesmith.lyrics.syllables import cmu_stresses

    files = sorted(p for c in ENGLISH_COMPOSERS for p in (LIEDER / c).rglob("*.mxl"))
    total, used = StressCounts(), []
    for path in files:
        if len(used) == count:
            break
        try:
            score = converter.parse(str(path))
        except Exception as exc:  # a file music21 cannot read: skip it, say so
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        part = max(score.parts, key=lambda p: sum(1 for n in p.recurse().notes if n.lyrics))
        texts, positions, meters = [], [], []
        for n in part.recurse().notes:
            lyric = next((ly for ly in n.lyrics if ly.number == 1), n.lyrics[0] if n.lyrics else None)
            if lyric is None or not lyric.text:
                continue
            measure = n.getContextByClass("Measure")
            ts = n.getContextByClass("TimeSignature")
            if measure is None or ts is None:
                continue
            offset = Fraction(n.offset).limit_denominator(48) + Fraction(measure.paddingLeft).limit_denominator(48)
            positions.append(int(round(offset * 12)))
            meters.append(Meter(ts.numerator, ts.denominator))
            texts.append(lyric.text + ("-" if lyric.syllabic in ("begin", "middle") else ""))
        words = [t.strip(".,;:!?'\"").lower() for t in texts if not t.endswith("-")]
        english = np.mean([cmu_stresses(w) is not None for w in words if w]) if words else 0
        if english < 0.8:
            continue
        total = total.add(count_stresses(positions, meters, texts, "en"))
        used.append(path.parent.name)
    return {"set": "lieder-english", "songs": len(used), "primary_on_strong": round(total.primary_share, 3),
            "primary_on_a_beat": round(total.primary_beat_share, 3),
            "unstressed_on_strong": round(total.unstressed_share, 3), "primary_syllables": total.primary,
            "titles": used}


def drafts(per_text: int, methods=("song", "generate --lyrics"), accompaniment: str = "none") -> list[dict]:
    """`tunesmith song` and `generate --lyrics` on the same texts, in both languages."""
    from tunesmith.lyrics.measure import StressCounts, pace, rests_after_lines, score_stresses
    from tunesmith.lyrics.song import SongSettings, check_settings, draft_songs
    from tunesmith.lyrics.text import parse_words
    from tunesmith.pipeline import check, draft, open_model
    from tunesmith.sample import GenerationRequest

    loaded = open_model()
    rows = []
    for method in methods:
        for lang, texts in TEXTS.items():
            total, rested, line_ends, rates, fastest, n = StressCounts(), 0, 0, [], [], 0
            for t, text in enumerate(texts):
                sections = parse_words(text, lang)
                settings = SongSettings(lang=lang, key="G major", accompaniment=accompaniment,
                                        num_samples=per_text, seed=100 * t)
                if method == "song":
                    results = [(s.score, s.line_ends) for s in
                               draft_songs(loaded, sections, settings, check_settings(settings))]
                else:
                    lines = [line for s in sections for line in s.syllables]
                    words = "".join(x.text + ("" if x.text.endswith("-") else " ") for line in lines for x in line)
                    ends_at = np.cumsum([len(line) for line in lines]) - 1
                    request = GenerationRequest(lyrics=words, key="G major", time_signature="4/4", tempo=96,
                                                seed=100 * t, num_samples=per_text)
                    results = []
                    for result in draft(check(request), loaded):
                        score = result.draft.score
                        ticks = sorted(lyr.tick for lyr in score.tracks[0].lyrics)
                        results.append((score, [ticks[i] for i in ends_at if i < len(ticks)]))
                part = StressCounts()
                for score, ends in results:
                    part = part.add(score_stresses(score, lang))
                    total = total.add(score_stresses(score, lang))
                    got, lines_here = rests_after_lines(score, ends)
                    rested, line_ends = rested + got, line_ends + lines_here
                    speed = pace(score)
                    rates.append(speed["mean"])
                    fastest.append(speed["fastest"])
                    n += 1
                print(json.dumps({"partial": f"{method} {lang} text {t}", "drafts": len(results),
                                  "primary_on_strong": f"{part.primary_strong}/{part.primary}",
                                  "rest_after_line_end": f"{rested}/{line_ends} so far"}), flush=True)
            rows.append(row := {"set": f"{method} {lang}", "drafts": n, "primary_on_strong": round(total.primary_share, 3),
                         "primary_on_a_beat": round(total.primary_beat_share, 3),
                         "unstressed_on_strong": round(total.unstressed_share, 3),
                         "primary_syllables": total.primary, "rest_after_line_end": f"{rested}/{line_ends}",
                         "syllables_per_second_mean": round(float(np.mean(rates)), 2),
                         "syllables_per_second_fastest": round(float(np.max(fastest)), 2)})
            print(json.dumps(row), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lieder", type=int, default=21, help="real English songs to measure (0: none)")
    parser.add_argument("--drafts", type=int, default=3, help="drafts per text and method (0: none)")
    parser.add_argument("--methods", default="song,generate --lyrics",
                        help='comma list of "song" and "generate --lyrics" (the before)')
    args = parser.parse_args()
    if args.lieder:
        print(json.dumps(lieder(args.lieder)), flush=True)
    if args.drafts:
        drafts(args.drafts, tuple(m.strip() for m in args.methods.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
