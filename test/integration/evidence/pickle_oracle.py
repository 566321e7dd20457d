"""CPython as the oracle for modelgate's pickle walk and NumPy header reader.

One process, batched: reads a JSON request on stdin, writes one JSON result per case on stdout.

  {"mode": "dump", "objects": [[protocol, spec], ...]}   -> base64 pickle.dumps of each object
  {"mode": "judge", "cases": [base64, ...]}              -> what pickle.load does with each stream
  {"mode": "npy", "cases": [base64, ...]}                -> what numpy's header reader makes of each

Judging never runs anything: find_class records the import and raises; persistent_load records the
call and returns Probe, a class whose construction and __setstate__ record a call and raise (so a
REDUCE/NEWOBJ/OBJ/BUILD of a persistent object is seen). An import whose module no finder can resolve
(see importable() in src/evidence/formats/pickle.ts) is really attempted, to prove that it raises.
"""

import base64
import collections
import datetime
import decimal
import fractions
import io
import json
import pickle
import resource
import sys
import warnings

# Random streams ask for huge memos and payloads: fail those allocations fast instead of swapping.
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
warnings.simplefilter("ignore")


class Reached(Exception):
    pass


class Probe:
    def __new__(cls, *args, **kwargs):
        raise Reached("call")

    def __setstate__(*args):
        raise Reached("call")


ALLOWED_ASCII = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def importable(module):
    """The walker's rule (src/evidence/formats/pickle.ts importable): a NUL anywhere, or an ASCII
    character in the first component that no module file name plausibly holds, cannot import. Where it
    says so, judge_file below imports the name for real and the test requires that to raise."""
    if "\0" in module:
        return False
    first = module.split(".")[0]
    return first == "" or all(ord(c) >= 0x80 or c in ALLOWED_ASCII for c in first)


def judge(data):
    """pickle.load over a file without peek() (BytesIO, as torch.load reads data.pkl) and with one
    (a buffered file, as pickle.load(open(...)) reads): the two read across FRAME ends differently."""
    plain = judge_file(io.BytesIO(data))
    buffered = judge_file(io.BufferedReader(io.BytesIO(data)))
    plain["b"] = buffered
    return plain


def judge_file(f):
    state = {"persistent": False}

    class Oracle(pickle.Unpickler):
        def find_class(self, module, name):
            state["module"] = module
            raise Reached("import")

        def persistent_load(self, pid):
            state["persistent"] = True
            return Probe

    out = {}
    try:
        Oracle(f).load()
        out["o"] = "loaded"
    except Reached as e:
        out["o"] = str(e)
    except MemoryError:
        out["o"] = "error"
        out["e"] = "MemoryError"
    except Exception as e:  # noqa: BLE001 - every exception is an outcome
        out["o"] = "error"
        out["e"] = type(e).__name__
    out["p"] = state["persistent"]
    if out["o"] == "import":
        module = state["module"]
        out["importable"] = importable(module)
        if not out["importable"]:
            # No finder can resolve it: importing it for real must raise.
            try:
                __import__(module)
                out["importRaised"] = False
            except Exception:  # noqa: BLE001
                out["importRaised"] = True
    return out


class Slots:
    __slots__ = ("a", "b")

    def __init__(self, a=None, b=None):
        self.a = a
        self.b = b

    def __getstate__(self):
        return (None, {"a": self.a, "b": self.b})

    def __setstate__(self, state):
        for k, v in state[1].items():
            setattr(self, k, v)


class Plain:
    def __init__(self, v=None):
        self.v = v


def build(spec, shared):
    """A Python object from a JSON spec: ["tag", ...]."""
    tag = spec[0]
    if tag == "none":
        return None
    if tag in ("int", "bool", "str"):
        return spec[1]
    if tag == "big":
        return int(spec[1])
    if tag == "float":
        return float(spec[1])
    if tag == "bytes":
        return bytes.fromhex(spec[1])
    if tag == "bytearray":
        return bytearray.fromhex(spec[1])
    if tag == "list":
        return [build(s, shared) for s in spec[1]]
    if tag == "tuple":
        return tuple(build(s, shared) for s in spec[1])
    if tag == "set":
        return {build(s, shared) for s in spec[1] if _hashable(build(s, shared))}
    if tag == "frozenset":
        return frozenset(x for x in (build(s, shared) for s in spec[1]) if _hashable(x))
    if tag == "dict":
        d = {}
        for k, v in spec[1]:
            key = build(k, shared)
            if _hashable(key):
                d[key] = build(v, shared)
        return d
    if tag == "shared":
        # The same object twice: memo PUT/GET or MEMOIZE in the stream.
        if spec[1] not in shared:
            shared[spec[1]] = [build(spec[2], shared)]
        return shared[spec[1]]
    if tag == "recursive":
        lst = [build(spec[1], shared)]
        lst.append(lst)
        return lst
    if tag == "class":
        kind = spec[1]
        if kind == "ordereddict":
            return collections.OrderedDict([("a", 1), ("b", [2])])
        if kind == "datetime":
            return datetime.datetime(2024, 1, 2, 3, 4, 5)
        if kind == "decimal":
            return decimal.Decimal("1.25")
        if kind == "fraction":
            return fractions.Fraction(3, 7)
        if kind == "complex":
            return complex(1, 2)
        if kind == "slots":
            return Slots(1, "x")
        if kind == "plain":
            return Plain([1, 2])
        if kind == "deque":
            return collections.deque([1, 2])
        if kind == "range":
            return range(3)
    raise ValueError(f"unknown spec {spec!r}")


def _hashable(x):
    try:
        hash(x)
        return True
    except TypeError:
        return False


def npy(data):
    try:
        from numpy.lib import _format_impl as fmt  # numpy 2: where np.lib.format's code lives
    except ImportError:
        from numpy.lib import format as fmt

    f = io.BytesIO(data)
    try:
        version = fmt.read_magic(f)
        fmt._check_version(version)
        # np.load with allow_pickle=True reads any header size.
        _, _, dtype = fmt._read_array_header(f, version, max_header_size=2**64)
        return {"o": "object" if dtype.hasobject else "plain"}
    except Exception as e:  # noqa: BLE001
        return {"o": "error", "e": type(e).__name__}


def main():
    req = json.load(sys.stdin)
    out = sys.stdout
    if req["mode"] == "dump":
        for protocol, spec in req["objects"]:
            data = pickle.dumps(build(spec, {}), protocol=protocol)
            out.write(json.dumps(base64.b64encode(data).decode()) + "\n")
    elif req["mode"] == "judge":
        for case in req["cases"]:
            out.write(json.dumps(judge(base64.b64decode(case))) + "\n")
    elif req["mode"] == "npy":
        for case in req["cases"]:
            out.write(json.dumps(npy(base64.b64decode(case))) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
