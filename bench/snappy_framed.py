#!/usr/bin/python3
# The peer of bench/avml.sh: a file compressed into the Snappy framing format by libsnappy through python-snappy
# (Debian's python3-snappy), the way python-snappy's StreamCompressor does it: 64 KiB chunks, each stored
# uncompressed unless compression saves 1/8. Debian 12's python3-snappy stream encoder and CLI fail on Python 3.11
# (its CRC-32C call: "PY_SSIZE_T_CLEAN macro must be defined"), so the chunks' checksum here is zlib.crc32 (the
# same size and a similar cost), not CRC-32C: the output's size and the time to make it are the peer's figures.
# With --skip-zero-blocks N, IN is read as a LiME image and only the bytes AVML stores are compressed: each range
# in blocks of N bytes, all-zero blocks left out (one stream; no record headers).
# Usage: snappy_framed.py IN OUT [--skip-zero-blocks N]
import struct
import sys
import zlib

import snappy

CHUNK = 65536
IDENTIFIER = b"\xff\x06\x00\x00sNaPpY"



def blocks(src, skip):
    """The bytes to compress: the whole file, or the LiME ranges' non-zero blocks."""
    if not skip:
        while chunk := src.read(CHUNK):
            yield chunk
        return
    while header := src.read(32):
        _magic, _version, start, end = struct.unpack("<IIQQ", header[:24])
        left = end - start + 1
        while left > 0:
            block = src.read(min(skip, left))
            left -= len(block)
            if block.count(0) != len(block):
                yield from (block[at : at + CHUNK] for at in range(0, len(block), CHUNK))


skip = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--skip-zero-blocks" else 0
with open(sys.argv[1], "rb", buffering=0) as src, open(sys.argv[2], "wb") as out:
    out.write(IDENTIFIER)
    for chunk in blocks(src, skip):
        crc = zlib.crc32(chunk)
        compressed = snappy.compress(chunk)
        if len(compressed) <= len(chunk) - (len(chunk) >> 3):
            kind, body = 0x00, compressed
        else:
            kind, body = 0x01, chunk
        out.write(struct.pack("<L", kind | ((len(body) + 4) << 8)))
        out.write(struct.pack("<L", crc))
        out.write(body)
