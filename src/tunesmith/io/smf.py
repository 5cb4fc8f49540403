"""The bytes of a Standard MIDI File, checked before symusic's parser sees them.

symusic 0.5.9's C++ parser (MiniMidi) trusts its input. On damaged files it reads past
its buffer (a header that declares more tracks than the file holds, a track chunk longer
than the file, an event cut off at the end) and writes past an array (a channel-16 note
whose pitch byte is 128 or more indexes beyond its 16 x 128 table), so the process dies
with SIGSEGV or SIGABRT, or, worse, reads whatever memory lies there and answers
differently on the next run. Measured on crafted files (2026-12-01). So:

- `SmfLayout.scan` reads the chunk structure (header, every chunk header, the byte span of
  each MTrk) without trusting any length;
- `SmfLayout.parser_bytes` is what symusic is given: the file itself when its layout is
  already what MiniMidi expects, else a clean rebuild (a 6-byte header whose track count
  matches the tracks present, only MTrk chunks, each length exact); the reader appends
  `PARSER_PADDING` so that MiniMidi's few bytes of read-ahead at the end see the same
  values in every run, and asks symusic to clamp data bytes to 7 bits (``sanitize_data``),
  which removes the out-of-range pitches;
- `SmfLayout.cut_damaged_tracks`, for a file symusic still refuses, walks each track's
  events exactly as MiniMidi does and cuts it before the first event it stops on.

Everything here is a pure function of the bytes: the same file gives the same result in
every process, which `prepare`'s reproducible shards rely on.
"""
from __future__ import annotations

import struct
from pathlib import Path

from ..errors import ReadError

PARSER_PADDING = b"\0" * 16
"""Appended to what symusic parses: MiniMidi reads up to ~10 bytes past a track that ends
mid-event (a delta time, a status, a meta type and length) before its bounds check."""

# MiniMidi 0.5.9's message lengths by status byte (status included), measured on crafted
# files: channel messages as the MIDI standard; F7 is one byte (no length follows, unlike
# the SMF standard); undefined status bytes (F4 F5 F9 FD) claim 255 bytes. F0 and FF carry
# their own length and are handled apart.
def _message_lengths() -> tuple[int, ...]:
    lengths = [0] * 256
    for status, length in ((0x80, 3), (0x90, 3), (0xA0, 3), (0xB0, 3), (0xC0, 2),
                           (0xD0, 2), (0xE0, 3)):
        lengths[status:status + 16] = [length] * 16
    for status, length in ((0xF1, 2), (0xF2, 3), (0xF3, 2), (0xF4, 255), (0xF5, 255),
                           (0xF6, 1), (0xF7, 1), (0xF8, 1), (0xF9, 255), (0xFA, 1),
                           (0xFB, 1), (0xFC, 1), (0xFD, 255), (0xFE, 1)):
        lengths[status] = length
    return tuple(lengths)


MESSAGE_LENGTH = _message_lengths()

TEXT, LYRIC = 0x01, 0x05
"""Meta event types of text and lyric events."""


def unwrap_riff(data: bytes, path: Path) -> bytes:
    """The SMF inside a RIFF RMID file (``.rmi``); any other bytes unchanged."""
    if not data.startswith(b"RIFF"):
        return data
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, length = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk_id == b"data":
            return data[pos + 8:pos + 8 + length]
        pos += 8 + length + (length & 1)
    raise ReadError("RIFF file without a MIDI 'data' chunk", path)


class SmfLayout:
    """The chunk structure of an SMF: header fields and the byte span of each MTrk.

    ``tracks`` holds (start, end) byte offsets of each track's events in ``data``;
    ``damage`` says in words what was skipped or cut; ``canonical`` is True while the
    file's own bytes are what MiniMidi expects (a 6-byte header, as many MTrk chunks as
    declared, each complete, no other chunk before the last of them, no track cut).
    """

    def __init__(self, data: bytes, fmt: int, division: int):
        self.data, self.format, self.division = data, fmt, division
        self.tracks: list[tuple[int, int]] = []
        self.damage: list[str] = []
        self.canonical = True
        self.smpte: tuple[int, int] | None = None
        if division & 0x8000:
            fps, ticks_per_frame = 256 - (division >> 8), division & 0xFF
            self.smpte = (fps, ticks_per_frame)

    @classmethod
    def scan(cls, data: bytes, path: Path) -> "SmfLayout":
        """Read the header and chunk headers; `ReadError` if this is no MIDI file at all."""
        if len(data) == 0:
            raise ReadError("empty file (0 bytes)", path)
        if not data.startswith(b"MThd"):
            raise ReadError("not a MIDI file (it does not start with an 'MThd' header)", path)
        if len(data) < 14:
            raise ReadError(f"not a MIDI file: {len(data)} bytes is too short for a header",
                            path)
        header_len, fmt, declared, division = struct.unpack_from(">IHHH", data, 4)
        if fmt > 2:
            raise ReadError(f"unknown MIDI format {fmt} (formats are 0, 1 and 2)", path)
        if division == 0:
            raise ReadError("time division is 0 ticks per quarter note", path)
        if header_len < 6 or header_len > len(data) - 8:
            raise ReadError(f"corrupt MIDI header (its length field says {header_len} bytes)",
                            path)
        layout = cls(data, fmt, division)
        if layout.smpte is not None and (layout.smpte[0] not in (24, 25, 29, 30)
                                         or layout.smpte[1] == 0):
            raise ReadError(f"invalid SMPTE time division 0x{division:04X} "
                            f"({layout.smpte[0]} frames per second, "
                            f"{layout.smpte[1]} ticks per frame)", path)
        layout.canonical = header_len == 6
        layout._scan_chunks(8 + header_len)
        if len(layout.tracks) != declared:
            layout.canonical = False
            if len(layout.tracks) < declared:
                layout.damage.append(f"the header declares {declared} tracks, the file holds "
                                     f"{len(layout.tracks)}")
        return layout

    def _scan_chunks(self, pos: int) -> None:
        data, other_chunk = self.data, False
        while pos + 8 <= len(data):
            chunk_id, length = data[pos:pos + 4], struct.unpack_from(">I", data, pos + 4)[0]
            if not chunk_id.isalnum():
                self.damage.append(f"{len(data) - pos} bytes of garbage after the last track")
                break
            if pos + 8 + length > len(data):
                if chunk_id == b"MTrk":
                    self.damage.append(f"track {len(self.tracks) + 1} truncated "
                                       f"({len(data) - pos - 8} of {length} bytes)")
                    self.tracks.append((pos + 8, len(data)))
                    self.canonical = False
                break
            if chunk_id == b"MTrk":
                self.tracks.append((pos + 8, pos + 8 + length))
                self.canonical = self.canonical and not other_chunk
            else:
                other_chunk = True
            pos += 8 + length

    def cut_damaged_tracks(self) -> None:
        """Cut each track before the first event MiniMidi stops on (an event running past
        the track's end, running status with nothing to run on), walking its events as
        MiniMidi does: for a file symusic refused, so that what precedes the damage is kept."""
        for i, (start, end) in enumerate(self.tracks):
            problem = first_bad_event(self.data, start, end)
            if problem is not None:
                cut, reason = problem
                self.tracks[i] = (start, cut)
                self.canonical = False
                self.damage.append(f"track {i + 1} cut at byte {cut - start} of "
                                   f"{end - start}: {reason}")

    def rebuild(self, track_indices: list[int] | range, fmt: int | None = None) -> bytes:
        """A clean SMF with only the given MTrk chunks and a matching header."""
        if fmt is None:  # several tracks cannot be format 0
            fmt = 1 if self.format == 0 and len(track_indices) > 1 else self.format
        chunks = [b"MThd", struct.pack(">IHHH", 6, fmt, len(track_indices), self.division)]
        for i in track_indices:
            start, end = self.tracks[i]
            chunks += [b"MTrk", struct.pack(">I", end - start), self.data[start:end]]
        return b"".join(chunks)

    def parser_bytes(self) -> bytes:
        """What symusic may parse (with `PARSER_PADDING` after it): the file itself, or
        its clean rebuild when the layout is not what MiniMidi expects."""
        return self.data if self.canonical else self.rebuild(range(len(self.tracks)))

    def with_division(self, ticks_per_quarter: int) -> None:
        """Replace an SMPTE division by ticks per quarter (symusic reads only those)."""
        self.division = min(ticks_per_quarter, 0x7FFF)
        self.canonical = False


def first_bad_event(data: bytes, start: int, end: int) -> tuple[int, str] | None:
    """(byte offset, reason) of the first event in ``data[start:end]`` that symusic 0.5.9
    refuses (one running past the end of the track, running status with no status byte
    before it), walking the events exactly as its parser does (see `MESSAGE_LENGTH`);
    None if the whole track parses. Cutting the track there keeps every event before it.
    """
    length_of = MESSAGE_LENGTH
    pos, prev_len = start, 0
    while pos < end:
        event = pos
        for _ in range(4):  # delta time: MiniMidi reads at most 4 bytes
            if pos >= end:
                return event, "a delta time runs past the end of the track"
            byte = data[pos]
            pos += 1
            if byte < 0x80:
                break
        if pos >= end:
            return event, "an event runs past the end of the track"
        status = data[pos]
        if status < 0x80:  # running status: the previous message's length again
            if not prev_len:
                return event, "running status with no status byte before it"
            if pos + prev_len - 1 > end:
                return event, "an event runs past the end of the track"
            pos += prev_len - 1
        elif status == 0xFF or status == 0xF0:
            head = pos + (2 if status == 0xFF else 1)
            length, pos = _vlq(data, head, end)
            if pos > end or pos + length > end:
                return event, "an event runs past the end of the track"
            if status == 0xFF and head - 1 < end and data[head - 1] == 0x2F:
                return None  # End of Track: MiniMidi reads no further
            if status == 0xF0:  # SysEx sets the running length; a meta event does not
                prev_len = pos + length - (head - 1)
            pos += length
        else:
            prev_len = length_of[status]
            if pos + prev_len > end:
                return event, "an event runs past the end of the track"
            pos += prev_len
    return None


def _vlq(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """MiniMidi's variable-length quantity (at most 4 bytes): (value, position after it);
    a position past ``end`` means it ran off the track."""
    value = 0
    for _ in range(4):
        if pos >= end:
            return value, end + 1
        byte = data[pos]
        value = (value << 7) | (byte & 0x7F)
        pos += 1
        if byte < 0x80:
            break
    return value, pos


# --- text events, read the way the SMF standard means them -----------------------------
def _read_vlq(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The SMF standard's variable-length quantity, stopping at ``end``."""
    value = 0
    for _ in range(4):
        if pos >= end:
            return value, end
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return value, pos


_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1}  # others (F4-F6, F8-FE) have none


def scan_text_events(data: bytes, start: int, end: int) -> list[tuple[int, int, bytes]]:
    """(absolute tick, meta type, raw bytes) of the text and lyric events of one MTrk.

    A small event walker: it follows delta times, running status and meta/SysEx lengths,
    and stops at the end of the chunk or at End-of-Track, so it cannot run away. A track
    without the bytes FF 01 or FF 05 holds no such event and is not walked (in Python,
    the walk costs about a microsecond a byte).
    """
    if data.find(b"\xff\x01", start, end) < 0 and data.find(b"\xff\x05", start, end) < 0:
        return []
    events, pos, tick, status = [], start, 0, 0
    while pos < end:
        delta, pos = _read_vlq(data, pos, end)
        tick += delta
        if pos >= end:
            break
        byte = data[pos]
        if byte == 0xFF:
            if pos + 1 >= end:
                break
            kind = data[pos + 1]
            length, pos = _read_vlq(data, pos + 2, end)
            if kind in (TEXT, LYRIC):
                events.append((min(tick, 2**31 - 1), kind, data[pos:pos + length]))
            if kind == 0x2F:
                break
            pos += length
        elif byte in (0xF0, 0xF7):
            length, pos = _read_vlq(data, pos + 1, end)
            pos += length
            status = 0
        elif byte >= 0xF0:
            pos += 1 + _SYSTEM_DATA_BYTES.get(byte, 0)
        elif byte >= 0x80:
            status = byte
            pos += 1 + _DATA_BYTES[byte & 0xF0]
        elif status:
            pos += _DATA_BYTES[status & 0xF0]
        else:  # a data byte with no status to run on: the rest of the track is noise
            break
    return events
