"""Standard MIDI files (.mid .midi .kar .rmi .smf) to `Score` and back, through symusic.

symusic (C++) parses the events; this module turns its numpy views into our arrays and
deals with what real files do wrong:

- **RIFF .rmi** files are unwrapped to the SMF inside their ``data`` chunk.
- **Damaged files**: trailing garbage, a truncated last chunk or a track that cannot be
  parsed are recovered by re-parsing only the chunks that parse; what was dropped is
  recorded in ``score.metadata["recovered"]``. Anything unrecoverable is a `ReadError`
  whose reason says, in words, what is wrong.
- **SMPTE time division** (ticks per video frame) is converted: ticks per quarter becomes
  frames per second x ticks per frame under a fixed 60 qpm, so seconds stay exact.
- **Format 2** files (independent songs) are read one song after the other.
- **Notes**: zero-length notes (on and off at one tick) get a duration of one tick, so a
  struck drum or grace note is not lost; overlapping same-pitch notes are kept as they
  come; a note-on never released is dropped (symusic's behaviour), so no note lasts to
  the end of the file by accident.
- **Lyrics** are read from the raw bytes, not symusic's text, so that any encoding
  decodes (UTF-8, else EUC-KR/CP949, else Windows-1252), and so that karaoke words,
  which .kar files store as text events with ``@`` headers and ``/`` ``\\`` line marks,
  become lyrics too. Lyrics land on the track whose note onsets they match best.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import symusic

from ..atomic import atomic_path
from ..errors import ReadError, WriteError
from ..harmony.markers import chord_marker_texts, chords_from_markers, chords_from_text_events
from .smf import LYRIC, PARSER_PADDING, TEXT, SmfLayout, scan_text_events, unwrap_riff
from ..score import (KEY_DTYPE, LYRIC_CONTINUES, MODES, NOTE_DTYPE, TEMPO_DTYPE,
                     TIME_SIGNATURE_DTYPE, Lyric, Marker, Score, Track, key_signature_sharps)

MAX_MIDI_BYTES = 64 * 1024 * 1024
"""Larger files are refused: real MIDI files are kilobytes, rarely a few megabytes."""

MAX_TICK = 2**31 - 1
"""symusic stores times as 32-bit ticks."""

MAX_QUARTERS = 2**16
"""Nothing is read after this many quarter notes (16,384 bars of 4/4, over 9 hours at
120 qpm): later times in a file are corrupt."""

MAX_BARS = 2**14
"""Nor after this many bars (the same 16,384 bars, whatever the meter)."""

_KARAOKE_HEADER = re.compile(rb"\xff\x01[\x02-\x7f]@[KTLVI]")


# --- reading ---------------------------------------------------------------------------
def read_midi(path: str | os.PathLike) -> Score:
    """Read a MIDI file into a `Score` at the file's own ticks per quarter.

    Raises `ReadError` naming the file and the reason if nothing can be recovered.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MIDI_BYTES:
            raise ReadError(f"file too large for a MIDI file ({size:,} bytes)", path)
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(exc.strerror or str(exc), path) from None
    data = unwrap_riff(data, path)
    smf = SmfLayout.scan(data, path)
    recovered: list[str] = []
    if smf.smpte is not None:
        smf.with_division(smf.smpte[0] * smf.smpte[1])
    if smf.format == 2 and len(smf.tracks) > 1:
        sym = _parse_songs_in_sequence(smf, path, recovered)
    else:
        sym = _parse_recovering(smf, path, recovered)
    score = score_from_symusic(sym, lyrics=False)
    if smf.smpte is not None:  # one quarter = one second: ticks per second as tpq
        score.tempos = np.array([(0, 60.0)], dtype=TEMPO_DTYPE)
        recovered.append(f"SMPTE time division ({smf.smpte[0]} fps x {smf.smpte[1]} "
                         "ticks per frame) read as that many ticks per second")
    if smf.format != 2:
        walked: dict = {}  # each track's text events walked once, for lyrics and chords

        def text_events(data: bytes, start: int, end: int) -> list:
            if (start, end) not in walked:
                walked[start, end] = scan_text_events(data, start, end)
            return walked[start, end]

        _attach_lyrics(score, smf, path, text_events)
        chords_from_text_events(score, smf.data, smf.tracks, text_events)  # harmony
    _cut_at_max_length(score, recovered)
    score.metadata["source"] = os.fspath(path)
    if recovered:
        score.metadata["recovered"] = "; ".join(recovered)
    return score


def _length_limit(score: Score) -> int:
    """The tick of quarter note `MAX_QUARTERS` or of bar `MAX_BARS`, whichever is first
    (a corrupt 1/128 meter makes bars of a few ticks), counted per meter, not per bar."""
    limit = MAX_QUARTERS * score.ticks_per_quarter
    meters = score.meter_map()
    bars = 0
    for i, (tick, numerator, denominator) in enumerate(meters.tolist()):
        if tick >= limit:
            break
        length = max(1, numerator * score.ticks_per_quarter * 4 // denominator)
        end = int(meters["tick"][i + 1]) if i + 1 < len(meters) else limit
        count = -(-(min(end, limit) - tick) // length)
        if bars + count >= MAX_BARS:
            return min(limit, tick + (MAX_BARS - bars) * length)
        bars += count
    return limit


def _cut_at_max_length(score: Score, recovered: list[str]) -> None:
    """Drop what starts after `_length_limit` and end longer notes there: such times come
    from corrupt delta times (a 4-byte delta is up to 2**28 ticks) or meters, and every bar
    up to them would otherwise be counted, drawn and tokenized."""
    for name in ("tempos", "time_signatures", "key_signatures", "chords"):
        table = getattr(score, name)  # times past 2**31 ticks wrapped around below 0
        if len(table) and table["tick"].min() < 0:
            setattr(score, name, table[table["tick"] >= 0])
    score.markers = [marker for marker in score.markers if marker.tick >= 0]
    limit = _length_limit(score)
    if score.end_tick() <= limit and all(
            not len(table) or int(table["tick"].max()) <= limit
            for table in (score.tempos, score.time_signatures, score.key_signatures)):
        return
    dropped = 0
    for track in score.tracks:
        keep = track.notes["onset"] < limit
        dropped += int((~keep).sum())
        track.notes = track.notes[keep]
        track.notes["duration"] = np.minimum(track.notes["duration"],
                                             limit - track.notes["onset"])
        track.lyrics = [lyric for lyric in track.lyrics if lyric.tick < limit]
    for name in ("tempos", "time_signatures", "key_signatures", "chords"):
        table = getattr(score, name)
        setattr(score, name, table[table["tick"] < limit])
    score.markers = [marker for marker in score.markers if marker.tick < limit]
    recovered.append(f"cut at tick {limit:,} (quarter {limit // score.ticks_per_quarter:,}; "
                     "corrupt times or meters): "
                     + (f"{dropped} notes after it dropped" if dropped else
                        "notes held past it end there"))


def _symusic_reason(exc: Exception) -> str:
    """symusic's parser message, in words a user can act on."""
    text = " ".join(str(exc).split())
    text = re.sub(r"^MiniMidi: ", "", text).replace(": iostream error", "").strip()
    if "Unexpected EOF" in text:
        return "corrupt MIDI data: an event runs past the end of its track"
    return f"corrupt MIDI data ({text.replace('Invaild', 'invalid')})"


def _parse(data: bytes) -> symusic.Score:
    """symusic's parse of bytes that `SmfLayout` has checked (never the raw file: see
    io/smf.py for what its parser does with damaged bytes), data bytes clamped to 7 bits."""
    return symusic.Score.from_midi(data + PARSER_PADDING, sanitize_data=True)


def _parse_recovering(smf: SmfLayout, path: Path, recovered: list[str]) -> symusic.Score:
    """Parse the checked file. If symusic refuses it, cut every track before its first
    event symusic refuses and parse again; failing that, keep the tracks that parse alone.
    A refused file from which no note can be recovered is a `ReadError`."""
    try:
        sym = _parse(smf.parser_bytes())
        if not smf.canonical:
            recovered.extend(smf.damage)
        return sym
    except (RuntimeError, ValueError) as exc:
        reason = _symusic_reason(exc)
    smf.cut_damaged_tracks()
    try:
        sym = _parse(smf.parser_bytes())
    except (RuntimeError, ValueError):
        sym = None
    if sym is not None:
        if not any(len(track.notes) for track in sym.tracks):
            raise ReadError(reason, path)
        recovered.extend(smf.damage)
        return sym
    good, bad = [], []
    for i in range(len(smf.tracks)):
        try:
            _parse(smf.rebuild([i], fmt=1))
            good.append(i)
        except (RuntimeError, ValueError):
            bad.append(i + 1)
    if not good:
        raise ReadError(reason, path)
    try:
        sym = _parse(smf.rebuild(good))
    except (RuntimeError, ValueError):
        raise ReadError(reason, path) from None
    recovered.extend(smf.damage)
    if bad:
        recovered.append(f"dropped unreadable track(s) {', '.join(map(str, bad))} "
                         f"of {len(smf.tracks)}: {reason}")
    return sym


def _parse_songs_in_sequence(smf: SmfLayout, path: Path, recovered: list[str]) -> symusic.Score:
    """Format 2: each track is a separate song; play them one after another."""
    merged, offset = None, 0
    if not smf.canonical:
        recovered.extend(smf.damage)
    for i in range(len(smf.tracks)):
        try:
            song = _parse(smf.rebuild([i], fmt=0))
        except (RuntimeError, ValueError) as exc:
            recovered.append(f"dropped song {i + 1}: {_symusic_reason(exc)}")
            continue
        if merged is None:
            merged = symusic.Score(song.ticks_per_quarter)
        song = song.shift_time(offset)
        offset = max(offset, song.end())
        for name in ("tracks", "tempos", "time_signatures", "key_signatures", "markers"):
            getattr(merged, name).extend(getattr(song, name))
    if merged is None:
        raise ReadError("no song of this format-2 file could be read", path)
    return merged


# --- symusic <-> Score -----------------------------------------------------------------
def score_from_symusic(sym: symusic.Score, lyrics: bool = True) -> Score:
    """A `Score` from a tick-based ``symusic.Score`` (its ticks per quarter are kept).

    With ``lyrics``, symusic's lyric events are moved onto the tracks they belong to;
    without, they and the note-less tracks that only held them are left out.
    """
    if sym.ttype != symusic.core.Tick:
        sym = sym.to("tick")
    score = Score(ticks_per_quarter=int(sym.ticks_per_quarter))
    for sym_track in sym.tracks:
        if not lyrics and len(sym_track.lyrics) and not len(sym_track.notes):
            continue  # a lyrics-only track symusic split off; lyrics are read apart
        track = Track(name=_clean_text(sym_track.name), program=int(sym_track.program),
                      is_drum=bool(sym_track.is_drum), notes=_notes_from_symusic(sym_track))
        if lyrics:
            track.lyrics = [Lyric(int(x.time), x.text) for x in sym_track.lyrics]
        score.tracks.append(track)
    tempos = sym.tempos.numpy()
    score.tempos = np.zeros(len(tempos["time"]), dtype=TEMPO_DTYPE)
    score.tempos["tick"] = tempos["time"]
    score.tempos["qpm"] = 60_000_000.0 / np.maximum(tempos["mspq"], 1)
    sigs = sym.time_signatures.numpy()
    valid = (sigs["numerator"] > 0) & (sigs["denominator"] > 0)
    score.time_signatures = np.zeros(int(valid.sum()), dtype=TIME_SIGNATURE_DTYPE)
    for name, column in (("tick", "time"), ("numerator", "numerator"),
                         ("denominator", "denominator")):
        score.time_signatures[name] = sigs[column][valid]
    score.key_signatures = _keys_from_symusic(sym.key_signatures.numpy())
    # a format-1 file often repeats its key or meter in every track: keep each once
    score.tempos, score.time_signatures, score.key_signatures = (
        _without_duplicates(table) for table in
        (score.tempos, score.time_signatures, score.key_signatures))
    score.markers = [Marker(int(m.time), _clean_text(m.text)) for m in sym.markers]
    chords_from_markers(score)  # markers that are chord symbols become score.chords
    if lyrics:
        merge_lyric_only_tracks(score)
    return score


def _without_duplicates(table: np.ndarray) -> np.ndarray:
    """Rows sorted by tick, each identical row kept once (differing rows at one tick stay)."""
    table = np.sort(table, order="tick", kind="stable")
    if len(table) < 2:
        return table
    keep = np.ones(len(table), dtype=bool)
    keep[1:] = table[1:] != table[:-1]
    return table[keep]


def _notes_from_symusic(sym_track) -> np.ndarray:
    raw = sym_track.notes.numpy()
    keep = (raw["time"] >= 0) & (raw["duration"] >= 0) & (raw["pitch"] >= 0)
    notes = np.zeros(int(keep.sum()), dtype=NOTE_DTYPE)
    notes["onset"] = raw["time"][keep]
    notes["duration"] = np.maximum(raw["duration"][keep], 1)  # zero-length -> one tick
    notes["pitch"] = raw["pitch"][keep]
    notes["velocity"] = np.clip(raw["velocity"][keep].astype(np.int16), 1, 127)
    return notes


def _keys_from_symusic(raw: dict) -> np.ndarray:
    """MIDI key signatures (sharps, 0 major / 1 minor) as tonic pitch class and mode."""
    sharps = raw["key"].astype(np.int64)
    valid = (sharps >= -7) & (sharps <= 7)
    minor = raw["tonality"][valid] == 1
    major_tonic = (sharps[valid] * 7) % 12
    keys = np.zeros(int(valid.sum()), dtype=KEY_DTYPE)
    keys["tick"] = raw["time"][valid]
    keys["tonic"] = np.where(minor, (major_tonic + 9) % 12, major_tonic)
    keys["mode"] = np.where(minor, MODES.index("minor"), MODES.index("major"))
    return keys


def _clean_text(text: str) -> str:
    """Text from a MIDI meta event without control characters or padding."""
    return "".join(ch for ch in text if ch.isprintable()).strip()


def _clean_lyric(text: str) -> str:
    """A syllable without control characters (``\\r`` line marks); spaces are kept,
    since they tell where words begin and end."""
    return "".join(ch for ch in text if ch.isprintable())


def _syllables(texts: list[tuple[int, str]]) -> list[Lyric]:
    """Lyrics in our convention (a syllable ending in ``-`` continues its word) from a
    file's (tick, text) events. Karaoke files and many others mark words with spaces
    instead: a syllable starting with a space (or a ``/`` ``\\`` line mark) begins a word,
    one ending with a space ends it, ``" Lit" "tle "``. Events with no space anywhere
    (one word per note, or Chinese and Korean syllables) are kept as they are."""
    spaced = any(text[:1] in (" ", "/", "\\") or text.endswith(" ") for _, text in texts)
    if not spaced:
        return [Lyric(tick, text) for tick, text in texts]
    texts = [(tick, " " + text[1:] if text[:1] in ("/", "\\") else text) for tick, text in texts]
    lyrics = []
    for i, (tick, text) in enumerate(texts):
        word_goes_on = (i + 1 < len(texts) and not text.endswith(" ")
                        and not texts[i + 1][1].startswith(" "))
        lyrics.append(Lyric(tick, text.strip() + (LYRIC_CONTINUES if word_goes_on else "")))
    return lyrics


def merge_lyric_only_tracks(score: Score) -> None:
    """Move the lyrics of note-less tracks onto the track they sing along with.

    symusic (and many files, karaoke's "Words" track) keep lyrics apart from notes; we
    attach them to the track whose note onsets coincide with most lyric ticks. A lyric
    track that matches no onset at all stays a track of its own.
    """
    singers = [t for t in score.tracks if len(t.notes)]
    for track in [t for t in score.tracks if t.lyrics and not len(t.notes)]:
        ticks = np.array([lyric.tick for lyric in track.lyrics])
        hits = [(int(np.isin(ticks, t.notes["onset"]).sum()), t.name == track.name, -i)
                for i, t in enumerate(singers)]
        if not hits or max(hits)[0] == 0:
            continue
        target = singers[-max(hits)[2]]
        target.lyrics = sorted(target.lyrics + track.lyrics, key=lambda lyric: lyric.tick)
        score.tracks = [t for t in score.tracks if t is not track]  # not ==: arrays


# --- lyrics from the raw bytes ---------------------------------------------------------
def _attach_lyrics(score: Score, smf: SmfLayout, path: Path,
                   text_events=scan_text_events) -> None:
    """Read lyric (or karaoke text) events from the file's bytes and attach them."""
    has_lyrics = b"\xff\x05" in smf.data
    karaoke = _KARAOKE_HEADER.search(smf.data) is not None
    if not has_lyrics and not karaoke:
        return
    per_track = [text_events(smf.data, start, end) for start, end in smf.tracks]
    lyric_tracks = [[(tick, raw) for tick, kind, raw in events if kind == LYRIC]
                    for events in per_track]
    if not any(lyric_tracks) and karaoke:
        lyric_tracks = _karaoke_words(per_track, score)
    encoding = _guess_encoding(b"".join(raw for events in lyric_tracks for _, raw in events))
    holder = Track(name="Lyrics")
    for events in lyric_tracks:
        texts = [(tick, _clean_lyric(raw.decode(encoding, errors="replace"))) for tick, raw in events]
        holder.lyrics += _syllables(sorted((tick, text) for tick, text in texts if text.strip()))
    if holder.lyrics:
        holder.lyrics.sort(key=lambda lyric: lyric.tick)
        score.tracks.append(holder)
        merge_lyric_only_tracks(score)


def _karaoke_words(per_track: list, score: Score) -> list:
    """The syllables of a karaoke (.kar) file; its ``@T`` headers go to the metadata.

    Words are the non-``@`` text events of tracks that use the ``\\`` (new paragraph) or
    ``/`` (new line) marks; a mark becomes a space, so words stay apart.
    """
    words = []
    titles = [raw[2:].decode("latin-1").strip() for events in per_track
              for _, kind, raw in events if kind == TEXT and raw.startswith(b"@T")]
    if titles:
        score.metadata.setdefault("title", titles[0])
    for events in per_track:
        texts = [(tick, raw) for tick, kind, raw in events
                 if kind == TEXT and not raw.startswith(b"@")]
        if any(raw[:1] in (b"/", b"\\") for _, raw in texts):
            words.append([(tick, b" " + raw[1:].lstrip() if raw[:1] in (b"/", b"\\") else raw)
                          for tick, raw in texts])
    return words


def _guess_encoding(raw: bytes) -> str:
    """UTF-8 if the bytes are valid UTF-8, else EUC-KR/CP949, else Windows-1252."""
    for encoding in ("utf-8", "cp949"):
        try:
            raw.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return "cp1252"


# --- writing ---------------------------------------------------------------------------
def score_to_symusic(score: Score) -> symusic.Score:
    """A tick-based ``symusic.Score`` with the same notes, tempos, meters, keys, lyrics
    (on their own track) and markers. Modal keys are written as their key signature
    (D dorian -> no sharps, major), since MIDI knows only major and minor."""
    sym = symusic.Score(int(score.ticks_per_quarter))
    for track in score.tracks:
        sym_track = symusic.Track(track.name, int(track.program) & 0x7F, bool(track.is_drum))
        notes = track.notes
        sym_track.notes = symusic.Note.from_numpy(
            _ticks32(notes["onset"]), _ticks32(notes["duration"]),
            np.clip(notes["pitch"], 0, 127).astype(np.int8),
            np.clip(notes["velocity"], 1, 127).astype(np.int8))
        for lyric in track.lyrics:
            sym_track.lyrics.append(symusic.TextMeta(int(lyric.tick), lyric.text))
        sym.tracks.append(sym_track)
    tempos = score.tempos
    sym.tempos = symusic.Tempo.from_numpy(
        _ticks32(tempos["tick"]),
        np.rint(60_000_000.0 / np.maximum(tempos["qpm"], 1e-3)).clip(1, 0xFFFFFF).astype(np.int32))
    sigs = score.time_signatures
    sym.time_signatures = symusic.TimeSignature.from_numpy(
        _ticks32(sigs["tick"]), sigs["numerator"].astype(np.uint8),
        sigs["denominator"].astype(np.uint8))
    keys = score.key_signatures
    minor = keys["mode"] == MODES.index("minor")
    sharps = [key_signature_sharps(int(t), int(m)) for t, m in zip(keys["tonic"], keys["mode"])]
    sym.key_signatures = symusic.KeySignature.from_numpy(
        _ticks32(keys["tick"]), np.array(sharps, dtype=np.int8), minor.astype(np.uint8))
    for marker in score.markers:
        sym.markers.append(symusic.TextMeta(int(marker.tick), marker.text))
    for tick, text in chord_marker_texts(score):  # chord symbols, one marker a change
        sym.markers.append(symusic.TextMeta(int(tick), text))
    return sym


def _ticks32(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, MAX_TICK).astype(np.int32)


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _with_metadata_events(data: bytes, metadata: dict) -> bytes:
    """``data`` (a MIDI file from symusic) with the score's metadata at tick 0 of the
    first track: the title as its sequence name (FF 03), everything else but the
    source path as text events (FF 01) ``name: value``, e.g. a draft's provenance.
    symusic writes no such events itself."""
    events = b""
    if metadata.get("title"):
        title = str(metadata["title"]).encode("utf-8")
        events += b"\x00\xff\x03" + _vlq(len(title)) + title
    for name, value in metadata.items():
        if name in ("title", "source", "recovered"):
            continue
        text = f"{name}: {value}".encode("utf-8")
        events += b"\x00\xff\x01" + _vlq(len(text)) + text
    start = data.find(b"MTrk", 14)
    if not events or start < 0:
        return data
    length = int.from_bytes(data[start + 4:start + 8], "big") + len(events)
    return data[:start + 4] + length.to_bytes(4, "big") + events + data[start + 8:]


def write_midi(score: Score, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Write ``score`` as a format-1 MIDI file, atomically.

    One MIDI track per `Track` (name, program change, notes, its lyrics as lyric events);
    drums on channel 10; tempo, time-signature, key-signature and marker events in the
    first track. An existing ``path`` raises `WriteError` unless ``overwrite``.
    """
    if not 0 < score.ticks_per_quarter <= 0x7FFF:
        raise WriteError(f"ticks per quarter {score.ticks_per_quarter} does not fit a "
                         "MIDI header (1-32767)", path)
    sym = score_to_symusic(score)
    with atomic_path(path, overwrite=overwrite) as tmp:
        try:
            sym.dump_midi(str(tmp))
        except (RuntimeError, ValueError, OSError) as exc:
            raise WriteError(f"could not write MIDI: {exc}", path) from None
        if score.metadata:
            tmp.write_bytes(_with_metadata_events(tmp.read_bytes(), score.metadata))
