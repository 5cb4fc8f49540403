"""The lead sheet: melody, words, chord symbols and section names, as MusicXML.

Built on `tunesmith.io.musicxml.score_to_music21` (bars, spelling, ties, rests), then:
the words go under the notes with begin/middle/end syllables and, where a syllable is
held over several notes, MusicXML's ``<extend/>`` (the melisma line); a passage sung
again with other words carries them as verse 2, 3 ... (lyric numbers); each section
name is a rehearsal mark; chord symbols come from ``Score.chords`` where the MusicXML
writer does not already write them.
"""
from __future__ import annotations

import os
import re
from fractions import Fraction

from ..atomic import write_bytes
from ..errors import WriteError
from ..score import LYRIC_CONTINUES, Score
from .song import SungNote

_EXTEND_MARK = "tunesmith-extend"


def write_lead_sheet(sheet: Score, words: list[SungNote], path: str | os.PathLike, title: str = "Song",
                     form: str = "", overwrite: bool = False) -> None:
    """Write the lead sheet of ``sheet`` (its first track is the melody) with ``words``
    (ticks of ``sheet``) as MusicXML at ``path``, atomically."""
    from music21 import expressions, harmony, note, stream
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    from ..io.musicxml import score_to_music21

    if not overwrite and os.path.exists(path):
        raise WriteError("already exists (use --overwrite)", path)
    bare = sheet.copy()
    bare.tracks = bare.tracks[:1]
    bare.tracks[0].lyrics = []
    bare.metadata = {"title": title, **({"form": form} if form else {})}
    m21 = score_to_music21(bare)
    part = m21.parts[0]
    tpq = sheet.ticks_per_quarter
    notes = {Fraction(n.getOffsetInHierarchy(part)).limit_denominator(96): n
             for n in part.recurse().notes if not n.tie or n.tie.type == "start"}
    in_word: dict[int, bool] = {}
    for word in sorted(words, key=lambda w: (w.verse, w.onset)):
        target = notes.get(Fraction(word.onset, tpq).limit_denominator(96))
        if target is None:
            continue
        text = word.text.strip()
        continues = text.endswith(LYRIC_CONTINUES) and len(text) > 1
        was = in_word.get(word.verse, False)
        syllabic = ("middle" if continues else "end") if was else ("begin" if continues else "single")
        in_word[word.verse] = continues
        lyric = note.Lyric(text=text.rstrip(LYRIC_CONTINUES) if continues else text, number=word.verse,
                           syllabic=syllabic, applyRaw=True)
        if word.held:
            lyric.identifier = _EXTEND_MARK
        target.lyrics.append(lyric)
    measures = list(part.getElementsByClass(stream.Measure))
    for marker in sheet.markers:
        mark = expressions.RehearsalMark(marker.text)
        mark.placement = "above"
        _insert_at(measures, Fraction(marker.tick, tpq), mark)
    data = GeneralObjectExporter(m21).parse()
    if len(sheet.chords) and b"<harmony" not in data:
        from ..harmony.symbols import table_chords

        for tick, chord in table_chords(sheet.chords):
            if chord.is_no_chord:
                continue
            try:
                symbol = harmony.ChordSymbol(re.sub(r"(^|/)([A-G])b", r"\1\2-", chord.symbol()))
            except Exception:  # a symbol music21 cannot spell: leave it out of the sheet
                continue
            symbol.writeAsChord = False
            _insert_at(measures, Fraction(tick, tpq), symbol)
        data = GeneralObjectExporter(m21).parse()
    write_bytes(path, _with_extends(data), overwrite=overwrite)


def _insert_at(measures, offset: Fraction, element) -> None:
    """Put ``element`` into the bar holding ``offset`` (quarters from the start)."""
    for measure in measures:
        start = Fraction(measure.offset).limit_denominator(96)
        if start <= offset < start + Fraction(measure.barDuration.quarterLength).limit_denominator(96):
            measure.insert(offset - start, element)
            return


def _with_extends(data: bytes) -> bytes:
    """MusicXML bytes with ``<extend/>`` in every lyric marked as held (music21 does
    not write extends itself)."""
    pattern = re.compile(rb'<lyric name="' + _EXTEND_MARK.encode() + rb'"([^>]*)>(.*?)</lyric>', re.S)
    return pattern.sub(lambda m: b"<lyric" + m.group(1) + b">" + m.group(2) + b"<extend type=\"start\" /></lyric>",
                       data)
