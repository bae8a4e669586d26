"""A zip file written entry by entry, each deflated by ISA-L (python-isal).

zipfile takes no compressor but zlib's. At a province's scale (1.15 GB of sheet XML) zlib's level 1 took 2.5 s
of CPU, ISA-L's 0.7 s, for about the same file (93-95 MB; zlib's level 6, which zipfile had used for the tables
before, made 72 MB in 6.8 s). An entry is deflated into a temporary file first, so that its header states its
sizes and CRC (no data descriptor, no seeking back: the output may be a pipe), with zip64's fields only where a
size or an offset needs them.
"""
from __future__ import annotations

import shutil
import struct
import tempfile

from isal import isal_zlib

LEVEL = 2   # ISA-L's levels are 0-3: 1 and 2 deflate the sheets as fast (2 1% smaller), 3 at a third the speed
            # and no smaller
ZIP64_OVER = (1 << 31) - 1   # a size, offset or length over this is zip64's, as zipfile has it (some readers
                             # take a 4-byte field as signed)
_MARK = 0xFFFFFFFF           # what a 4-byte field says of a value zip64 holds
_SPOOL = 1 << 20             # an entry deflated to this size stays in memory


class ZipWriter:
    """Entries into out (a binary file, written forward only); close() writes the central directory."""

    def __init__(self, out):
        self.out, self.at, self.entries = out, 0, []

    def write(self, name: str, pieces, date_time=(1980, 1, 1, 0, 0, 0)):
        """An entry of the bytes pieces (an iterable), deflated."""
        deflate = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, -15)
        crc = size = 0
        with tempfile.SpooledTemporaryFile(_SPOOL) as packed:
            for piece in pieces:
                crc = isal_zlib.crc32(piece, crc)
                size += len(piece)
                packed.write(deflate.compress(piece))
            packed.write(deflate.flush())
            packed_size = packed.tell()
            packed.seek(0)
            entry = _Entry(name.encode("utf-8"), _dos(date_time), crc, packed_size, size, self.at)
            header = entry.local()
            self.out.write(header)
            shutil.copyfileobj(packed, self.out, 1 << 20)
        self.at += len(header) + packed_size
        self.entries.append(entry)

    def close(self):
        directory = b"".join(e.central() for e in self.entries)
        start, size, count = self.at, len(directory), len(self.entries)
        self.out.write(directory)
        if start > ZIP64_OVER or size > ZIP64_OVER or count > 0xFFFF:   # zip64's end record, and where it is
            self.out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, start))
            self.out.write(struct.pack("<IIQI", 0x07064B50, 0, start + size, 1))
        self.out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                                   min(size, _MARK), min(start, _MARK), 0))


def _dos(date_time) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class _Entry:
    def __init__(self, name: bytes, dos: tuple[int, int], crc: int, packed: int, size: int, offset: int):
        self.name, self.dos, self.crc, self.packed, self.size, self.offset = name, dos, crc, packed, size, offset
        self.flags = 0 if name.isascii() else 0x800   # a name in UTF-8
        self.big = max(size, packed) > ZIP64_OVER     # its sizes are zip64's

    def local(self) -> bytes:
        """The local header: zip64 gives both sizes where one needs it."""
        big = self.big
        extra = struct.pack("<HHQQ", 1, 16, self.size, self.packed) if big else b""
        return struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if big else 20, self.flags, 8, *self.dos, self.crc,
                           _MARK if big else self.packed, _MARK if big else self.size, len(self.name),
                           len(extra)) + self.name + extra

    def central(self) -> bytes:
        """Its central directory record: zip64 gives the sizes and the offset that need it, in that order."""
        sizes_big = self.big
        offset_big = self.offset > ZIP64_OVER
        values = ([self.size, self.packed] if sizes_big else []) + ([self.offset] if offset_big else [])
        extra = struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b""
        version = 45 if values else 20
        return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, version, version, self.flags, 8, *self.dos, self.crc,
                           _MARK if sizes_big else self.packed, _MARK if sizes_big else self.size, len(self.name),
                           len(extra), 0, 0, 0, 0, _MARK if offset_big else self.offset) + self.name + extra
