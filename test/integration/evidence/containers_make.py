"""Archives written by CPython's own zipfile and tarfile, for containers-differential.test.ts.

Usage: containers_make.py OUT COUNT SEED. Writes COUNT zips and COUNT tars (random members, names,
compression methods, zip64, comments, tar formats USTAR/GNU/PAX, long names, links, directories,
gzip), framed as `kind (z|t) | length (4 bytes, big-endian) | bytes`.
"""
import io
import random
import struct
import sys
import tarfile
import zipfile

NAMES = ["a.txt", "archive/data.pkl", "archive/data/0", "m/x.bin", "é.bin", "config.json", "w.safetensors"]


def name(rng):
    r = rng.random()
    if r < 0.6:
        return rng.choice(NAMES)
    if r < 0.8:
        return "d/" * rng.randint(1, 80) + "deep.pkl"
    return "".join(rng.choice("abcXYZ_-.é中") for _ in range(rng.randint(1, 12)))


def payload(rng):
    r = rng.random()
    if r < 0.3:
        return b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94."
    if r < 0.6:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
    return bytes((i * 7) & 0xFF for i in range(rng.randint(0, 20000)))


def make_zip(rng):
    buf = io.BytesIO()
    methods = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
    with zipfile.ZipFile(buf, "w", compression=rng.choice(methods[:3])) as zf:
        used = set()
        for _ in range(rng.randint(0, 5)):
            n = name(rng)
            if n in used:
                continue
            used.add(n)
            force64 = rng.random() < 0.1
            info = zipfile.ZipInfo(n)
            info.compress_type = rng.choice(methods)
            if force64:
                with zf.open(info, "w", force_zip64=True) as f:
                    f.write(payload(rng))
            else:
                zf.writestr(info, payload(rng))
        if rng.random() < 0.2:
            zf.comment = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))).replace(b"PK", b"pk")
    data = buf.getvalue()
    if rng.random() < 0.1:
        data = b"#!/bin/sh\nexit 0\n" + data  # prepended data, as self-extracting archives have
    return data


def make_tar(rng):
    buf = io.BytesIO()
    fmt = rng.choice([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for _ in range(rng.randint(0, 5)):
            n = name(rng)
            kind = rng.random()
            info = tarfile.TarInfo(n)
            if kind < 0.75:
                data = payload(rng)
                info.size = len(data)
                try:
                    tf.addfile(info, io.BytesIO(data))
                except ValueError:
                    pass  # a name this format cannot hold
            else:
                info.type = rng.choice([tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE])
                if info.type != tarfile.DIRTYPE:
                    info.linkname = rng.choice(NAMES)
                try:
                    tf.addfile(info)
                except ValueError:
                    pass
    data = buf.getvalue()
    if rng.random() < 0.2:
        import gzip

        data = gzip.compress(data, mtime=0)
    return data


def main():
    out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    with open(out, "wb") as f:
        for kind, make in ((b"z", make_zip), (b"t", make_tar)):
            for _ in range(count):
                data = make(rng)
                f.write(kind + struct.pack(">I", len(data)) + data)


if __name__ == "__main__":
    main()
