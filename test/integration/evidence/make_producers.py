"""Writes a small, safe model directory as Hugging Face repositories hold one, and the layer blobs
that model packagers make of it, into OUT_DIR:

  model/                 model.safetensors (Hugging Face's safetensors writer), config.json,
                         tokenizer.json, README.md, LICENSE
  model.gguf             a GGUF file by llama.cpp's gguf writer (what Ollama's model layer holds)
  pickle.bin             a protocol-4 pickle of a state dict (what "replaced by a pickle" means)
  kit/NAME.tar[.gz]      one tar per Kitfile entry, as `kit pack` writes them (Go's archive/tar: path
                         relative to the context, uid 1000, gid 0, no times; gzip for --compression)
  kit/model-pickle.tar   the model layer with the pickle under the name model.safetensors
  modelpack/NAME.tar     one tar per file, as `modctl build` writes them

KitOps' `kit` and `modctl` are not served by the Go module proxy, so their layer bytes are made here
with the same archive layout; the manifests are assembled by the test and pushed with oras."""
import gzip
import io
import json
import os
import pickle
import shutil
import struct
import sys
import tarfile

import numpy as np
from gguf import GGUFWriter
from safetensors import serialize_file

out = sys.argv[1]
model = os.path.join(out, "model")
os.makedirs(model, exist_ok=True)

weights = struct.pack("<8f", *[0.25 * i for i in range(8)])
serialize_file({"model.embed.weight": {"dtype": "float32", "shape": [2, 4], "data": weights}},
               os.path.join(model, "model.safetensors"), metadata={"format": "pt"})
files = {
    "config.json": json.dumps({"architectures": ["TinyModel"], "hidden_size": 4, "vocab_size": 2}, indent=2),
    "tokenizer.json": json.dumps({"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
                                  "normalizer": None, "pre_tokenizer": {"type": "Whitespace"},
                                  "post_processor": None, "decoder": None,
                                  "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1},
                                            "unk_token": "[UNK]"}}),
    "README.md": "# tiny-model\n\nA two-token model for packaging tests.\n",
    "LICENSE": "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n",
}
for name, text in files.items():
    with open(os.path.join(model, name), "w") as f:
        f.write(text)

w = GGUFWriter(os.path.join(out, "model.gguf"), "llama")
w.add_block_count(1)
w.add_context_length(16)
w.add_tensor("token_embd.weight", np.arange(8, dtype=np.float32).reshape(2, 4))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

with open(os.path.join(out, "pickle.bin"), "wb") as f:
    pickle.dump({"model.embed.weight": [0.25 * i for i in range(8)]}, f, protocol=4)


def tar_bytes(members):
    """A tar as Go's archive/tar writes kit's and modctl's layers (USTAR, reproducible headers)."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(data), 0o644, 1000, 0, 0
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def read(path):
    with open(path, "rb") as f:
        return f.read()


for sub in ("kit", "modelpack"):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
names = ["model.safetensors", *files]
for name in names:
    tar = tar_bytes([(name, read(os.path.join(model, name)))])
    for sub in ("kit", "modelpack"):
        with open(os.path.join(out, sub, f"{name}.tar"), "wb") as f:
            f.write(tar)
    with open(os.path.join(out, "kit", f"{name}.tar.gz"), "wb") as f:
        f.write(gzip.compress(tar, mtime=0))
pickled = tar_bytes([("model.safetensors", read(os.path.join(out, "pickle.bin")))])
for sub in ("kit", "modelpack"):
    with open(os.path.join(out, sub, "model-pickle.tar"), "wb") as f:
        f.write(pickled)
with open(os.path.join(out, "kit", "model-pickle.tar.gz"), "wb") as f:
    f.write(gzip.compress(pickled, mtime=0))

# The same directory with the weights replaced by the pickle (for the packagers that read a directory).
pickled_dir = os.path.join(out, "model-pickle")
shutil.copytree(model, pickled_dir)
shutil.copy(os.path.join(out, "pickle.bin"), os.path.join(pickled_dir, "model.safetensors"))
print("ok")
