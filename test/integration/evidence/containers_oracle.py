"""What CPython's zipfile and tarfile make of each archive in a batch (the oracle of
containers-differential.test.ts).

Input: a file of records, each `kind (1 byte: z or t) | length (4 bytes, big-endian) | bytes`.
Output: one JSON line per record:
  {"ok": bool, "error": str?, "members": [[name, head_hex | null], ...]}
where `members` lists what a loader could open, in archive order: for zip, every name of
`namelist()` opened by name (`ZipFile.open(name).read(HEAD)`); for tar (`tarfile.open(mode="r:*")`,
which also inflates gzip), every member that `extractfile` serves as a file: regular files and the
types tarfile does not know (it extracts those as regular files). A member that raises when opened or
read gets a null head: Python would not load it.
"""
import io
import json
import struct
import sys
import tarfile
import zipfile

HEAD = 64


def zip_members(data, out):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            try:
                with zf.open(name) as f:
                    out.append([name, f.read(HEAD).hex()])
            except Exception:  # noqa: BLE001 - any failure means Python cannot load the member
                out.append([name, None])


def tar_members(data, out):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        for m in tf:
            if not (m.isreg() or m.type not in tarfile.SUPPORTED_TYPES):
                continue
            try:
                f = tf.extractfile(m)
                out.append([m.name, None if f is None else f.read(HEAD).hex()])
            except Exception:  # noqa: BLE001
                out.append([m.name, None])


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        blob = f.read()
    pos = 0
    with open(dst, "w", encoding="utf-8") as out:
        while pos < len(blob):
            kind = blob[pos:pos + 1]
            (length,) = struct.unpack(">I", blob[pos + 1:pos + 5])
            data = blob[pos + 5:pos + 5 + length]
            pos += 5 + length
            members = []
            try:
                (zip_members if kind == b"z" else tar_members)(data, members)
                rec = {"ok": True, "members": members}
            except Exception as e:  # noqa: BLE001 - the archive as a whole does not open
                rec = {"ok": False, "error": f"{type(e).__name__}: {e}"[:200], "members": members}
            out.write(json.dumps(rec, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
