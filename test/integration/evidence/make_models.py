"""Writes the model files of the evidence integration tests into OUT_DIR, each with the tool users
use: Python's own pickle and zipfile (as torch.save lays out its zip), Hugging Face's safetensors
writer, and tarfile. GGUF and NumPy headers are written with struct to their specifications."""
import io
import os
import pickle
import struct
import sys
import tarfile
import zipfile

from safetensors import serialize_file

out = sys.argv[1]


def path(name):
    return os.path.join(out, name)


class Exploit:
    """What a malicious checkpoint pickles: unpickling calls os.system."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


state = {"layer.weight": [0.5, -1.25, 2.0], "layer.bias": [0.0]}

# Safetensors, by the reference writer.
tensor = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
serialize_file({"layer.weight": {"dtype": "float32", "shape": [2, 2], "data": tensor}}, path("model.safetensors"),
               metadata={"format": "pt"})

# The same file with a header length larger than the blob.
with open(path("model.safetensors"), "rb") as f:
    good = f.read()
with open(path("oversized-header.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(good) * 100) + good[8:])

# Pickles: a protocol-4 state dict and a protocol-0 code-execution payload.
with open(path("state.pkl"), "wb") as f:
    pickle.dump(state, f, protocol=4)
with open(path("exploit-p0.pkl"), "wb") as f:
    pickle.dump(Exploit(), f, protocol=0)


def torch_zip(name, pkl_entry, leading=()):
    """A checkpoint laid out as torch.save writes it (stored entries), optionally with data.pkl moved."""
    with zipfile.ZipFile(path(name), "w", compression=zipfile.ZIP_STORED) as z:
        for entry, data in leading:
            z.writestr(entry, data)
        z.writestr(pkl_entry, pickle.dumps(state, protocol=2))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", tensor)
        z.writestr("archive/version", "3\n")
        z.writestr("archive/.data/serialization_id", "0123456789")


torch_zip("model.pt", "archive/data.pkl")
# data.pkl hidden in a subfolder, behind a big first entry: only the central directory shows it.
torch_zip("hidden.bin", "payload/deep/nested/data.pkl", leading=[("archive/data/big", b"\0" * 200_000)])

# A zip that carries no pickle.
with zipfile.ZipFile(path("plain.zip"), "w") as z:
    z.writestr("weights/raw.bin", tensor)

# GGUF v3 header: magic, version, tensor count, metadata count, one string metadata entry.
key = b"general.architecture"
val = b"llama"
with open(path("model.gguf"), "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1))
    f.write(struct.pack("<Q", len(key)) + key + struct.pack("<I", 8) + struct.pack("<Q", len(val)) + val)


def npy(descr):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }" % descr
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


with open(path("array.npy"), "wb") as f:
    f.write(npy("<f4") + tensor[:8])

# A tarred layer (as KitOps and ModelPack pack directories): a config, a safetensors file and a pickle.
with tarfile.open(path("model.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    for name in ("model/config.json", "model/model.safetensors", "model/extra/optimizer.bin"):
        data = {"model/config.json": b"{}", "model/model.safetensors": good}.get(name)
        if data is None:
            with open(path("state.pkl"), "rb") as f:
                data = f.read()
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))

# The same directory gzipped: its members cannot be read by range.
with tarfile.open(path("model.tar.gz"), "w:gz") as t:
    t.add(path("model.tar"), arcname="model.tar")

print("ok")
