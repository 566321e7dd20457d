// Pickle detection that behaves like CPython's unpickler (Modules/_pickle.c, the C Unpickler that
// pickle.load, torch.load, numpy and joblib use). CPython executes opcodes as it reads them, from the
// first byte, whatever the protocol: there is no header to trust (PROTO is just an opcode, accepted
// with any value 0..HIGHEST_PROTOCOL=5, anywhere in the stream) and STOP returns the top of the stack
// whatever lies below it. So the walker interprets the stream the same way, with an abstract stack,
// marks and memo that are exactly as precise as needed to agree with CPython on one question: does
// the unpickler raise before it reaches an opcode that imports (GLOBAL, STACK_GLOBAL, INST), or that
// calls an object it could only have got from an import or from the loader's persistent_load hook
// (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, BUILD)?
//
// persistent_load itself (PERSID, BINPERSID; PyTorch installs one) is the loader's own function given
// a value from the stream; no known loader runs code of the stream's choosing from it (plain pickle
// raises, PyTorch asserts a tuple). The walk records where it would be called (`persistentLoadAt`)
// and goes on with an unknown result, so that calling or building that result counts as code. Calling
// every PERSID "code" would make a README whose first line starts with "P", or any tar written by Go
// with a PAX header ("PaxHeaders.0/..."), a pickle.
//
// The model over-approximates: an operation the walker cannot prove to raise is assumed to succeed,
// so "not-pickle" is only said when CPython certainly raises first. Payloads (BINBYTES8 and friends)
// are skipped by offset arithmetic and a one-byte ranged read that proves they are there, never read.
// test/integration/evidence/pickle-differential.test.ts checks the walker against the real CPython.
import { ReadBudgetExceeded } from './source.ts';

/** Bytes that a loader could open; structurally the ByteSource of source.ts (and BlobWindow). */
export interface PickleByteSource {
  readonly size: number | undefined;
  read(start: number, length: number): Promise<Uint8Array>;
}

/** What reaching code means: an import, or a call of an object from an import or a persistent_load. */
export type PickleCodeReach = 'import' | 'call';

export type PickleVerdict =
  /** CPython would load it (STOP reached) or reach code (`code: true`) before any error. */
  | {
      readonly kind: 'pickle';
      readonly protocol: number;
      readonly code: boolean;
      readonly evidence: string;
      readonly reached?: PickleCodeReach;
      /** Offset of the opcode that reaches code, or of STOP. */
      readonly offset: number;
      /** Offset of the first PERSID/BINPERSID, which calls the loader's persistent_load, if reached. */
      readonly persistentLoadAt?: number;
    }
  /** CPython's unpickler raises before any import or call opcode. */
  | {
      readonly kind: 'not-pickle';
      readonly evidence: string;
      /** Offset of the opcode at which CPython raises. */
      readonly offset: number;
      readonly persistentLoadAt?: number;
    }
  /** The walk ran out of budget, or two CPython readers would read the bytes differently: fail closed. */
  | { readonly kind: 'undecided'; readonly evidence: string; readonly persistentLoadAt?: number };

export interface PickleWalkOptions {
  /** Bytes the walk may read beyond `head` (payloads skipped by range do not count). Default 16 MiB. */
  readonly maxBytes?: number;
  /** Opcodes the walk may interpret. Default 2,000,000. */
  readonly maxOps?: number;
  /** Longest text argument (a line) the walk looks for the end of. Default 256 KiB. */
  readonly maxLineBytes?: number;
  /**
   * Whether EXT1/EXT2/EXT4 reach an import. A stock interpreter's copyreg extension registry is empty
   * (nothing in the standard library or the common model loaders registers a code), so CPython raises
   * "unregistered extension code" there; 'registered' assumes a loader that registered codes.
   */
  readonly extensionRegistry?: 'empty' | 'registered';
}

export interface PickleSniff {
  readonly protocol: number;
  readonly evidence: string;
}

const HIGHEST_PROTOCOL = 5;
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_OPS = 2_000_000;
const DEFAULT_MAX_LINE = 256 * 1024;
/** Payloads up to this size are read (and validated where CPython validates); larger ones are skipped. */
const READ_PAYLOAD_MAX = 64 * 1024;
const FIRST_CHUNK = 64 * 1024;
const MAX_CHUNK = 1024 * 1024;
/** The async walk yields to the event loop after this many opcodes. */
const OPS_PER_SLICE = 20_000;
/** Strings kept verbatim (for STACK_GLOBAL evidence) up to this length. */
const TEXT_KEEP = 200;
/** sniffPickle: a head that stays well-formed this long without STOP reads as a pickle stream. */
const LONG_VALID_PREFIX = 512;
const MIN_OPCODES_FOR_PREFIX = 8;

// ---- the abstract values ------------------------------------------------------------------------

type Kind =
  | 'none'
  | 'bool'
  | 'int'
  | 'float'
  | 'str'
  // A Python 2 string (STRING, BINSTRING): str, or bytes when the loader passes encoding='bytes'.
  | 'str8'
  | 'bytes'
  | 'bytearray'
  | 'list'
  | 'tuple'
  | 'dict'
  | 'set'
  | 'frozenset'
  | 'memoryview'
  // An object the walker cannot know (an out-of-band buffer): every operation on it may succeed.
  | 'any';

interface Val {
  readonly kind: Kind;
  /** Whether hash() succeeds: undefined when it depends on what the walker cannot know. */
  readonly hashable: boolean | undefined;
  /** Tuples of up to three items keep them (BUILD looks into (state, slotstate) pairs). */
  readonly items?: readonly Val[];
  /** Short strings keep their text, for evidence. */
  readonly text?: string;
}

const val = (kind: Kind, hashable: boolean | undefined): Val => ({ kind, hashable });
const NONE = val('none', true);
const BOOL = val('bool', true);
const INT = val('int', true);
const FLOAT = val('float', true);
const STR = val('str', true);
const STR8 = val('str8', true);
const BYTES = val('bytes', true);
const BYTEARRAY = val('bytearray', false);
const LIST = val('list', false);
const DICT = val('dict', false);
const SET = val('set', false);
const FROZENSET = val('frozenset', true);
const MEMORYVIEW = val('memoryview', undefined);
const ANY = val('any', undefined);
const EMPTY_TUPLE = tupleOf([]);

function tupleOf(items: readonly Val[]): Val {
  let hashable: boolean | undefined = true;
  for (const v of items) {
    if (v.hashable === false) {
      hashable = false;
      break;
    }
    if (v.hashable === undefined) hashable = undefined;
  }
  return items.length <= 3 ? { kind: 'tuple', hashable, items: [...items] } : { kind: 'tuple', hashable };
}

function strOf(text: string | undefined): Val {
  return text === undefined || text.length > TEXT_KEEP ? STR : { kind: 'str', hashable: true, text };
}

// ---- control flow of one opcode -----------------------------------------------------------------

/** CPython raises here: the stream is not a pickle that reaches code. */
class Raise {
  readonly why: string;
  constructor(why: string) {
    this.why = why;
  }
}
/** More bytes are needed at [start, start+length); `probe` only proves they exist. */
class Need {
  readonly start: number;
  readonly length: number;
  readonly probe: boolean;
  constructor(start: number, length: number, probe: boolean) {
    this.start = start;
    this.length = length;
    this.probe = probe;
  }
}
/** Two CPython readers would read the stream differently (a read across a FRAME's end). */
class Ambiguous {
  readonly why: string;
  constructor(why: string) {
    this.why = why;
  }
}

type Step =
  | { readonly kind: 'verdict'; readonly verdict: PickleVerdict }
  | { readonly kind: 'need'; readonly need: Need }
  | { readonly kind: 'pause' };

const OPNAMES: Readonly<Record<number, string>> = {
  40: 'MARK',
  46: 'STOP',
  48: 'POP',
  49: 'POP_MARK',
  50: 'DUP',
  70: 'FLOAT',
  73: 'INT',
  74: 'BININT',
  75: 'BININT1',
  76: 'LONG',
  77: 'BININT2',
  78: 'NONE',
  80: 'PERSID',
  81: 'BINPERSID',
  82: 'REDUCE',
  83: 'STRING',
  84: 'BINSTRING',
  85: 'SHORT_BINSTRING',
  86: 'UNICODE',
  88: 'BINUNICODE',
  97: 'APPEND',
  98: 'BUILD',
  99: 'GLOBAL',
  100: 'DICT',
  125: 'EMPTY_DICT',
  101: 'APPENDS',
  103: 'GET',
  104: 'BINGET',
  105: 'INST',
  106: 'LONG_BINGET',
  108: 'LIST',
  93: 'EMPTY_LIST',
  111: 'OBJ',
  112: 'PUT',
  113: 'BINPUT',
  114: 'LONG_BINPUT',
  115: 'SETITEM',
  116: 'TUPLE',
  41: 'EMPTY_TUPLE',
  117: 'SETITEMS',
  71: 'BINFLOAT',
  128: 'PROTO',
  129: 'NEWOBJ',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  133: 'TUPLE1',
  134: 'TUPLE2',
  135: 'TUPLE3',
  136: 'NEWTRUE',
  137: 'NEWFALSE',
  138: 'LONG1',
  139: 'LONG4',
  66: 'BINBYTES',
  67: 'SHORT_BINBYTES',
  140: 'SHORT_BINUNICODE',
  141: 'BINUNICODE8',
  142: 'BINBYTES8',
  143: 'EMPTY_SET',
  144: 'ADDITEMS',
  145: 'FROZENSET',
  146: 'NEWOBJ_EX',
  147: 'STACK_GLOBAL',
  148: 'MEMOIZE',
  149: 'FRAME',
  150: 'BYTEARRAY8',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
};

/** The protocol that introduced each binary opcode (pickletools' table); text opcodes are protocol 0. */
function opcodeProtocol(op: number): number {
  if (op >= 0x96) return 5;
  if (op >= 0x8c) return 4;
  if (op === 0x42 || op === 0x43) return 3;
  if (op >= 0x80) return 2;
  // Protocol 1 added the binary forms.
  return 'JKMQTUXGqrhj)]}eu1o'.includes(String.fromCharCode(op)) ? 1 : 0;
}

// ---- the walker ---------------------------------------------------------------------------------

class Walker {
  // Bytes held: [bufStart, bufStart + buf.length) of the stream.
  private buf: Uint8Array;
  private bufStart = 0;
  /** Exact stream length when known. */
  private size: number | undefined;
  /** Every byte below this offset exists (proved by a read or probe). */
  private availableTo: number;
  /** No byte at or past this offset exists. */
  private missingFrom = Number.POSITIVE_INFINITY;

  private pos = 0;
  ops = 0;
  private readonly maxOps: number;
  private readonly maxLine: number;
  private readonly extensions: 'empty' | 'registered';

  private readonly stack: Val[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<string, Val>();
  private firstProto: number | undefined;
  private maxOpProtocol = 0;
  private persistentLoadAt: number | undefined;
  /** End of the FRAME whose bytes a file-reading CPython holds in its buffer, if one is open. */
  private frameEnd: number | undefined;
  /** Where the line being scanned has been searched up to (lines may span several reads). */
  private lineScan: { from: number; upTo: number } | undefined;

  constructor(head: Uint8Array, size: number | undefined, opts: PickleWalkOptions) {
    this.buf = head;
    this.size = size;
    this.availableTo = head.length;
    this.maxOps = opts.maxOps ?? DEFAULT_MAX_OPS;
    this.maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE;
    this.extensions = opts.extensionRegistry ?? 'empty';
  }

  get offset(): number {
    return this.pos;
  }

  get opsSeen(): number {
    return this.ops;
  }

  get startsWithProto(): boolean {
    return this.buf.length >= 2 && this.bufStart === 0 && this.buf[0] === 0x80;
  }

  get protocol(): number {
    return this.firstProto ?? this.maxOpProtocol;
  }

  /** Bytes arrived for a Need: appended to the buffer, or recorded as a probe. */
  supply(need: Need, got: Uint8Array): Ambiguous | undefined {
    const end = need.start + got.length;
    if (got.length > 0) this.availableTo = Math.max(this.availableTo, end);
    if (got.length < need.length) {
      // A short read ends the stream, unless the stream's size says otherwise.
      if (this.size !== undefined && end < Math.min(this.size, need.start + need.length)) {
        return new Ambiguous(
          `the source returned ${got.length} bytes at offset ${need.start} within its size`,
        );
      }
      this.missingFrom = Math.min(this.missingFrom, end);
    }
    if (need.probe) return undefined;
    const bufEnd = this.bufStart + this.buf.length;
    if (need.start === bufEnd) {
      // Keep the current opcode's bytes (it is retried from its start).
      const keepFrom = Math.max(this.bufStart, Math.min(this.pos, bufEnd));
      const kept = this.buf.subarray(keepFrom - this.bufStart);
      const merged = new Uint8Array(kept.length + got.length);
      merged.set(kept, 0);
      merged.set(got, kept.length);
      this.buf = merged;
      this.bufStart = keepFrom;
    } else {
      this.buf = got;
      this.bufStart = need.start;
    }
    return undefined;
  }

  /** Interprets opcodes until a verdict, a need for bytes, or a pause. */
  run(sliceOps: number): Step {
    const until = this.ops + sliceOps;
    for (;;) {
      if (this.ops >= this.maxOps) {
        return this.verdict({
          kind: 'undecided',
          evidence: `pickle walk stopped after ${this.ops} opcodes (budget) at offset ${this.pos} without an error, STOP or an import`,
        });
      }
      if (this.ops >= until) return { kind: 'pause' };
      const at = this.pos;
      try {
        const done = this.step();
        this.lineScan = undefined;
        this.ops++;
        if (done !== undefined) return this.verdict(done);
      } catch (e) {
        if (e instanceof Need) return { kind: 'need', need: e };
        this.lineScan = undefined;
        if (e instanceof Raise) {
          const op = this.buf[at - this.bufStart];
          const name =
            op === undefined ? 'end of data' : (OPNAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`);
          return this.verdict({
            kind: 'not-pickle',
            offset: at,
            evidence: `CPython's unpickler raises at offset ${at} (${name}) after ${this.ops} opcodes: ${e.why}`,
          });
        }
        if (e instanceof Ambiguous) {
          return this.verdict({ kind: 'undecided', evidence: `pickle stream at offset ${at}: ${e.why}` });
        }
        throw e;
      }
    }
  }

  private verdict(v: PickleVerdict): Step {
    return { kind: 'verdict', verdict: { ...v, ...this.persistent() } };
  }

  private persistent(): { persistentLoadAt?: number } {
    return this.persistentLoadAt === undefined ? {} : { persistentLoadAt: this.persistentLoadAt };
  }

  // ---- reading, as _Unpickler_Read / _Unpickler_Readline / _Unpickler_ReadInto do -----------------

  private get fence(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
  }

  /**
   * A read of `n` bytes at `at` that goes through CPython's input buffer. A file-reading CPython
   * holds a FRAME's bytes in that buffer and, for a read that runs past the frame's end, drops the
   * rest of the frame and reads afresh from the file; pickle.loads reads on contiguously. A stream
   * whose reads cross a frame's end is therefore read two ways: ambiguous.
   */
  private frameCheck(at: number, n: number): void {
    const end = this.frameEnd;
    if (end === undefined) return;
    if (at >= end) {
      this.frameEnd = undefined;
      return;
    }
    if (at + n > end) {
      throw new Ambiguous(
        `a ${n}-byte read at offset ${at} crosses the end of the FRAME at ${end} (file and memory readers disagree)`,
      );
    }
  }

  private truncated(): Raise {
    return new Raise('pickle data was truncated');
  }

  /** `n` bytes at `at`, from the buffer (throws Need or Raise). */
  private bytes(at: number, n: number): Uint8Array {
    const from = at - this.bufStart;
    if (from >= 0 && from + n <= this.buf.length) return this.buf.subarray(from, from + n);
    if ((this.size !== undefined && at + n > this.size) || at + n > this.missingFrom) throw this.truncated();
    const bufEnd = this.bufStart + this.buf.length;
    if (at >= this.bufStart && at <= bufEnd) throw new Need(bufEnd, at + n - bufEnd, false);
    throw new Need(at, n, false);
  }

  /** Proves that `n` bytes exist at `at` without holding them (throws Need(probe) or Raise). */
  private exists(at: number, n: number): void {
    if (n === 0) return;
    const end = at + n;
    // No stream holds 2^53 bytes (and offsets past that are not exact numbers).
    if (end > Number.MAX_SAFE_INTEGER) throw this.truncated();
    if (this.size !== undefined) {
      if (end > this.size) throw this.truncated();
      return;
    }
    if (end <= this.availableTo) return;
    if (end > this.missingFrom) throw this.truncated();
    throw new Need(end - 1, 1, true);
  }

  /** The bytes of a line starting at `at`, without its '\n'; the next offset follows it. */
  private line(at: number, kind: LineKind = 'any'): { content: Uint8Array; next: number } {
    const from = at - this.bufStart;
    let k = Math.max(from, this.lineScan?.from === at ? this.lineScan.upTo - this.bufStart : from);
    const b = this.buf;
    if (from >= 0 && from <= b.length) {
      const nl = b.indexOf(0x0a, k);
      if (nl >= 0) {
        const next = this.bufStart + nl + 1;
        this.frameCheck(at, next - at);
        return { content: b.subarray(from, nl), next };
      }
      k = b.length;
    }
    const bufEnd = this.bufStart + this.buf.length;
    // A line whose start already fails CPython's check fails whatever its end: no need to find it.
    if (from >= 0 && from < b.length) {
      const bad = partialLineError(b.subarray(from), kind);
      if (bad !== undefined) throw new Raise(bad);
    }
    if (bufEnd - at > this.maxLine) {
      throw new Ambiguous(
        `a text argument at offset ${at} runs on for more than ${this.maxLine} bytes (budget)`,
      );
    }
    this.lineScan = { from: at, upTo: Math.max(bufEnd, at) };
    // No newline in what the frame holds: a file reader would read the line from past the frame.
    if (this.frameEnd !== undefined && at < this.frameEnd && bufEnd >= this.frameEnd) {
      throw new Ambiguous(`a line at offset ${at} runs past the end of the FRAME at ${this.frameEnd}`);
    }
    if ((this.size !== undefined && bufEnd >= this.size) || bufEnd >= this.missingFrom)
      throw this.truncated();
    const start = Math.max(at, bufEnd);
    throw new Need(start, FIRST_CHUNK, false);
  }

  private u8(at: number): number {
    this.frameCheck(at, 1);
    return this.bytes(at, 1)[0]!;
  }

  private uint(at: number, n: 1 | 2 | 4): number {
    this.frameCheck(at, n);
    const b = this.bytes(at, n);
    let x = 0;
    for (let i = n - 1; i >= 0; i--) x = x * 256 + b[i]!;
    return x;
  }

  /** calc_binsize of 8 bytes: a size, or undefined above PY_SSIZE_T_MAX (CPython raises). */
  private size64(at: number): number | undefined {
    this.frameCheck(at, 8);
    const b = this.bytes(at, 8);
    if (b[7]! >= 0x80) return undefined;
    let x = 0;
    for (let i = 7; i >= 0; i--) x = x * 256 + b[i]!;
    // Sizes above 2^53 are inexact here, and no stream holds that many bytes: exists() says truncated.
    return Math.min(x, Number.MAX_SAFE_INTEGER);
  }

  // ---- the stack --------------------------------------------------------------------------------

  private underflow(): Raise {
    return new Raise(this.marks.length > 0 ? 'unexpected MARK found' : 'unpickling stack underflow');
  }

  private pop(): Val {
    if (this.stack.length <= this.fence) throw this.underflow();
    return this.stack.pop()!;
  }

  private top(): Val {
    if (this.stack.length <= this.fence) throw this.underflow();
    return this.stack[this.stack.length - 1]!;
  }

  private marker(): number {
    const m = this.marks.pop();
    if (m === undefined) throw new Raise('could not find MARK');
    return m;
  }

  private code(reached: PickleCodeReach, at: number, what: string): PickleVerdict {
    const protocol = this.protocol;
    return {
      kind: 'pickle',
      protocol,
      code: true,
      reached,
      offset: at,
      ...this.persistent(),
      evidence: `pickle protocol ${protocol} opcode stream that imports or calls Python objects (${what} at offset ${at})`,
    };
  }

  /**
   * find_class(module, name): an import, unless no finder can resolve the module. The import system
   * imports a dotted name's first component first, and looks it up as a built-in, a frozen module or a
   * file name; a first component with NUL or '/' can be none of these (the file name of a tar header
   * padded with NULs, say), so CPython raises ModuleNotFoundError there.
   */
  private importing(at: number, op: string, module: string, name: string): PickleVerdict {
    if (!importable(module)) {
      throw new Raise(
        `${op} of module ${shortName(module, name)}: no module can have that name (ModuleNotFoundError)`,
      );
    }
    return this.code('import', at, `${op} ${shortName(module, name)}`);
  }

  // ---- one opcode -------------------------------------------------------------------------------

  /** Interprets the opcode at `pos`; returns a verdict when the walk ends there. */
  private step(): PickleVerdict | undefined {
    const at = this.pos;
    const op = this.u8(at);
    const a = at + 1;
    let next = a;
    const s = this.stack;
    if (OPNAMES[op] !== undefined) this.maxOpProtocol = Math.max(this.maxOpProtocol, opcodeProtocol(op));
    switch (op) {
      case 0x28: // MARK
        this.marks.push(s.length);
        break;
      case 0x2e: {
        // STOP: load() pops the top item; whatever lies below it (or below a mark) is ignored.
        this.top();
        const protocol = this.protocol;
        return {
          kind: 'pickle',
          protocol,
          code: false,
          offset: at,
          evidence: `pickle protocol ${protocol} opcode stream ending in STOP after ${this.ops + 1} opcodes`,
        };
      }
      case 0x30: // POP: pops a mark when one sits on top of the stack
        if (this.marks.length > 0 && this.marks[this.marks.length - 1] === s.length) this.marks.pop();
        else this.pop();
        break;
      case 0x31: // POP_MARK
        s.length = this.marker();
        break;
      case 0x32: // DUP
        s.push(this.top());
        break;
      case 0x46: {
        // FLOAT
        const l = this.line(a, 'number');
        if (l.content.length < 1) throw this.truncated();
        if (!cFloatAccepts(cString(l.content))) throw new Raise('could not convert string to float');
        next = l.next;
        s.push(FLOAT);
        break;
      }
      case 0x49: {
        // INT
        const l = this.line(a, 'number');
        if (l.content.length < 1) throw this.truncated();
        if (!cIntAccepts(l.content)) throw new Raise('could not convert string to int');
        next = l.next;
        s.push(INT);
        break;
      }
      case 0x4c: {
        // LONG: an 'L' suffix is dropped, then int(s, 0)
        const l = this.line(a, 'number');
        if (l.content.length < 1) throw this.truncated();
        let c = l.content;
        if (c[c.length - 1] === 0x4c) c = c.subarray(0, c.length - 1);
        if (pyLong(cString(c), 0) === undefined) throw new Raise('invalid literal for int() with base 0');
        next = l.next;
        s.push(INT);
        break;
      }
      case 0x4a: // BININT
        this.uint(a, 4);
        next = a + 4;
        s.push(INT);
        break;
      case 0x4b: // BININT1
        this.uint(a, 1);
        next = a + 1;
        s.push(INT);
        break;
      case 0x4d: // BININT2
        this.uint(a, 2);
        next = a + 2;
        s.push(INT);
        break;
      case 0x4e: // NONE
        s.push(NONE);
        break;
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
        s.push(BOOL);
        break;
      case 0x47: // BINFLOAT
        this.frameCheck(a, 8);
        this.bytes(a, 8);
        next = a + 8;
        s.push(FLOAT);
        break;
      case 0x8a: // LONG1
      case 0x8b: {
        // LONG4: a signed byte count, then the bytes
        const width = op === 0x8a ? 1 : 4;
        let n = this.uint(a, width);
        if (width === 4 && n >= 0x80000000) n -= 0x100000000;
        if (n < 0) throw new Raise('LONG pickle has negative byte count');
        next = this.payload(a + width, n, false);
        s.push(INT);
        break;
      }
      case 0x53: {
        // STRING: a quoted Python 2 repr
        const l = this.line(a);
        const c = l.content;
        if (!(c.length >= 2 && c[0] === c[c.length - 1] && (c[0] === 0x27 || c[0] === 0x22))) {
          throw new Raise('the STRING opcode argument must be quoted');
        }
        const bad = escapeError(c.subarray(1, c.length - 1));
        if (bad !== undefined) throw new Raise(bad);
        next = l.next;
        s.push(STR8);
        break;
      }
      case 0x54: // BINSTRING
      case 0x55: {
        // SHORT_BINSTRING: decoded with the loader's encoding (ASCII, UTF-8, latin1 or bytes)
        const width = op === 0x55 ? 1 : 4;
        const n = this.uint(a, width);
        next = this.payload(a + width, n, false);
        s.push(STR8);
        break;
      }
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: // BINBYTES8
      case 0x96: {
        // BYTEARRAY8
        const width = op === 0x43 ? 1 : op === 0x42 ? 4 : 8;
        const n = width === 8 ? this.size64(a) : this.uint(a, width as 1 | 4);
        if (n === undefined) throw new Raise(`${OPNAMES[op]} exceeds system's maximum size`);
        // These payloads are read with _Unpickler_ReadInto, which reads on past a frame contiguously.
        next = this.payload(a + width, n, true);
        s.push(op === 0x96 ? BYTEARRAY : BYTES);
        break;
      }
      case 0x56: {
        // UNICODE: raw-unicode-escape
        const l = this.line(a);
        if (!rawUnicodeEscapeValid(l.content)) throw new Raise("'rawunicodeescape' codec can't decode bytes");
        next = l.next;
        s.push(l.content.length <= TEXT_KEEP ? strOf(latin1Text(l.content)) : STR);
        break;
      }
      case 0x58: // BINUNICODE
      case 0x8c: // SHORT_BINUNICODE
      case 0x8d: {
        // BINUNICODE8: UTF-8 with surrogatepass
        const width = op === 0x8c ? 1 : op === 0x58 ? 4 : 8;
        const n = width === 8 ? this.size64(a) : this.uint(a, width as 1 | 4);
        if (n === undefined) throw new Raise("BINUNICODE exceeds system's maximum size");
        const p = a + width;
        this.frameCheck(p, n);
        if (n <= READ_PAYLOAD_MAX) {
          const text = utf8Decode(this.bytes(p, n), true);
          if (text === undefined) throw new Raise("'utf-8' codec can't decode bytes");
          s.push(strOf(text));
        } else {
          // Too large to read: assumed valid (over-approximation).
          this.exists(p, n);
          s.push(STR);
        }
        next = p + n;
        break;
      }
      case 0x29: // EMPTY_TUPLE
        s.push(EMPTY_TUPLE);
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        const start = s.length - n;
        if (start < this.fence) throw this.underflow();
        const items = s.splice(start, n);
        s.push(tupleOf(items));
        break;
      }
      case 0x74: {
        // TUPLE
        const i = this.marker();
        s.push(tupleOf(s.splice(i)));
        break;
      }
      case 0x5d: // EMPTY_LIST
        s.push(LIST);
        break;
      case 0x6c: // LIST
        s.length = this.marker();
        s.push(LIST);
        break;
      case 0x7d: // EMPTY_DICT
        s.push(DICT);
        break;
      case 0x64: {
        // DICT
        const i = this.marker();
        if ((s.length - i) % 2 !== 0) throw new Raise('odd number of items for DICT');
        for (let k = i; k < s.length; k += 2) this.mustHash(s[k]!);
        s.length = i;
        s.push(DICT);
        break;
      }
      case 0x8f: // EMPTY_SET
        s.push(SET);
        break;
      case 0x91: {
        // FROZENSET
        const i = this.marker();
        for (let k = i; k < s.length; k++) this.mustHash(s[k]!);
        s.length = i;
        s.push(FROZENSET);
        break;
      }
      case 0x90: {
        // ADDITEMS
        const m = this.marker();
        if (m > s.length || m <= this.fence) throw this.underflow();
        if (m === s.length) break;
        const target = s[m - 1]!;
        if (target.kind === 'set') for (let k = m; k < s.length; k++) this.mustHash(s[k]!);
        else if (target.kind !== 'any') throw new Raise(`'${pyType(target)}' object has no attribute 'add'`);
        s.length = m;
        break;
      }
      case 0x61: // APPEND
        if (s.length - 1 <= this.fence) throw this.underflow();
        this.append(s.length - 1);
        break;
      case 0x65: // APPENDS
        this.append(this.marker());
        break;
      case 0x73: // SETITEM
        this.setItems(s.length - 2);
        break;
      case 0x75: // SETITEMS
        this.setItems(this.marker());
        break;
      case 0x62: {
        // BUILD
        if (s.length - 2 < this.fence) throw this.underflow();
        const state = this.pop();
        const inst = this.top();
        if (inst.kind === 'any') return this.code('call', at, 'BUILD on an unknown object (__setstate__)');
        this.build(state);
        break;
      }
      case 0x67: {
        // GET
        const l = this.line(a, 'number');
        if (l.content.length < 1) throw this.truncated();
        const key = pyLong(cString(l.content), 10);
        if (key === undefined) throw new Raise('invalid literal for int() with base 10');
        if (key > SSIZE_MAX || key < SSIZE_MIN)
          throw new Raise('Python int too large to convert to C ssize_t');
        next = l.next;
        s.push(this.memoGet(key));
        break;
      }
      case 0x68: // BINGET
        s.push(this.memoGet(BigInt(this.uint(a, 1))));
        next = a + 1;
        break;
      case 0x6a: // LONG_BINGET
        s.push(this.memoGet(BigInt(this.uint(a, 4))));
        next = a + 4;
        break;
      case 0x70: {
        // PUT
        const l = this.line(a, 'number');
        if (l.content.length < 1) throw this.truncated();
        const v = this.top();
        const key = pyLong(cString(l.content), 10);
        if (key === undefined) throw new Raise('invalid literal for int() with base 10');
        if (key < 0n) throw new Raise('negative PUT argument');
        if (key > SSIZE_MAX) throw new Raise('Python int too large to convert to C ssize_t');
        next = l.next;
        this.memo.set(key.toString(), v);
        break;
      }
      case 0x71: {
        // BINPUT
        const key = this.uint(a, 1);
        this.memo.set(String(key), this.top());
        next = a + 1;
        break;
      }
      case 0x72: {
        // LONG_BINPUT
        const key = this.uint(a, 4);
        this.memo.set(String(key), this.top());
        next = a + 4;
        break;
      }
      case 0x94: // MEMOIZE: the next index is the number of entries the memo holds
        this.memo.set(String(this.memo.size), this.top());
        break;
      case 0x80: {
        // PROTO: any protocol up to HIGHEST_PROTOCOL, anywhere in the stream
        const p = this.uint(a, 1);
        if (p > HIGHEST_PROTOCOL) throw new Raise(`unsupported pickle protocol: ${p}`);
        this.firstProto ??= p;
        next = a + 1;
        break;
      }
      case 0x95: {
        // FRAME: CPython reads the whole frame (it must be there), then reads opcodes from it
        const n = this.size64(a);
        if (n === undefined) throw new Raise("FRAME length exceeds system's maximum");
        const p = a + 8;
        const inFrame = this.frameEnd !== undefined && p < this.frameEnd;
        if (inFrame) this.frameCheck(p, n);
        this.exists(p, n);
        if (!inFrame && n > 0) this.frameEnd = p + n;
        next = p;
        break;
      }
      case 0x63: {
        // GLOBAL: two UTF-8 lines, then find_class
        const m = this.line(a, 'utf8');
        if (m.content.length < 1) throw this.truncated();
        const module = utf8Decode(m.content, false);
        if (module === undefined) throw new Raise("'utf-8' codec can't decode the module name");
        const n = this.line(m.next, 'utf8');
        if (n.content.length < 1) throw this.truncated();
        const name = utf8Decode(n.content, false);
        if (name === undefined) throw new Raise("'utf-8' codec can't decode the global name");
        return this.importing(at, 'GLOBAL', module, name);
      }
      case 0x69: {
        // INST: two ASCII lines, then find_class. The C unpickler looks for the mark first, but
        // pickle._Unpickler (the pure-Python one, which joblib and cloudpickle load with) imports
        // before it pops the mark: the more dangerous reading wins, so no mark is required here.
        const m = this.line(a, 'ascii');
        if (m.content.length < 1) throw this.truncated();
        if (!isAscii(m.content)) throw new Raise("'ascii' codec can't decode the module name");
        const n = this.line(m.next, 'ascii');
        if (n.content.length < 1) throw this.truncated();
        if (!isAscii(n.content)) throw new Raise("'ascii' codec can't decode the class name");
        return this.importing(at, 'INST', latin1Text(m.content), latin1Text(n.content));
      }
      case 0x93: {
        // STACK_GLOBAL: two str items, then find_class
        const name = this.pop();
        const module = this.pop();
        if (!maybeStr(name) || !maybeStr(module)) throw new Raise('STACK_GLOBAL requires str');
        if (module.text !== undefined && name.text !== undefined) {
          return this.importing(at, 'STACK_GLOBAL', module.text, name.text);
        }
        return this.code('import', at, 'STACK_GLOBAL');
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: {
        // EXT4
        const width = op === 0x82 ? 1 : op === 0x83 ? 2 : 4;
        let c = this.uint(a, width);
        if (width === 4 && c >= 0x80000000) c -= 0x100000000;
        if (c <= 0) throw new Raise('EXT specifies code <= 0');
        if (this.extensions === 'registered') return this.code('import', at, `${OPNAMES[op]} code ${c}`);
        throw new Raise(`unregistered extension code ${c} (copyreg's registry is empty)`);
      }
      case 0x50: {
        // PERSID: an ASCII line for the loader's persistent_load (without one, CPython raises)
        const l = this.line(a, 'ascii');
        if (!isAscii(l.content)) throw new Raise('persistent IDs in protocol 0 must be ASCII strings');
        this.persistentLoadAt ??= at;
        next = l.next;
        s.push(ANY);
        break;
      }
      case 0x51: // BINPERSID
        this.pop();
        this.persistentLoadAt ??= at;
        s.push(ANY);
        break;
      case 0x52: {
        // REDUCE: callable(*args); only an object from an import or hook can be called
        const args = this.pop();
        const callable = this.pop();
        if (callable.kind === 'any' && (args.kind === 'tuple' || args.kind === 'any')) {
          return this.code('call', at, 'REDUCE of an unknown object');
        }
        throw new Raise(`'${pyType(callable)}' object is not callable`);
      }
      case 0x81: // NEWOBJ
      case 0x92: {
        // NEWOBJ_EX: cls.__new__(cls, *args[, **kwargs]) needs a type
        if (op === 0x92) this.pop();
        this.pop();
        const cls = this.pop();
        if (cls.kind === 'any') return this.code('call', at, `${OPNAMES[op]} of an unknown object`);
        throw new Raise(`${OPNAMES[op]} class argument must be a type, not ${pyType(cls)}`);
      }
      case 0x6f: {
        // OBJ: a mark, a class and its arguments
        const i = this.marker();
        if (s.length - i < 1) throw this.underflow();
        const cls = s[i]!;
        s.length = i;
        if (cls.kind === 'any') return this.code('call', at, 'OBJ of an unknown object');
        throw new Raise(`'${pyType(cls)}' object is not callable`);
      }
      case 0x97: // NEXT_BUFFER: stock loaders pass no buffers (and raise); a loader that does gets an object
        s.push(ANY);
        break;
      case 0x98: {
        // READONLY_BUFFER: memoryview(top)
        const v = this.top();
        if (v.kind === 'bytearray') s[s.length - 1] = MEMORYVIEW;
        else if (!['bytes', 'str8', 'memoryview', 'any'].includes(v.kind)) {
          throw new Raise(`memoryview: a bytes-like object is required, not '${pyType(v)}'`);
        }
        break;
      }
      default: {
        const c = String.fromCharCode(op);
        throw new Raise(
          op >= 0x20 && op <= 0x7e && c !== "'" && c !== '\\'
            ? `invalid load key, '${c}'.`
            : `invalid load key, '\\x${op.toString(16).padStart(2, '0')}'.`,
        );
      }
    }
    this.pos = next;
    return undefined;
  }

  /**
   * A counted payload at `p`: bytes CPython reads but the walker does not need. Held payloads cost
   * nothing; others are proved present with a one-byte probe at their end.
   */
  private payload(p: number, n: number, readInto: boolean): number {
    if (!readInto) this.frameCheck(p, n);
    else if (this.frameEnd !== undefined && p >= this.frameEnd) this.frameEnd = undefined;
    else if (this.frameEnd !== undefined && p + n > this.frameEnd) {
      // _Unpickler_ReadInto takes the rest of the frame, then reads on from the file: contiguous.
      this.frameEnd = undefined;
    }
    this.exists(p, n);
    return p + n;
  }

  private mustHash(v: Val): void {
    if (v.hashable === false) throw new Raise(`unhashable type: '${pyType(v)}'`);
  }

  private memoGet(key: bigint): Val {
    const v = key >= 0n ? this.memo.get(key.toString()) : undefined;
    if (v === undefined) throw new Raise(`Memo value not found at index ${key}`);
    return v;
  }

  /** do_append: list.extend, or the target's extend/append. */
  private append(x: number): void {
    const s = this.stack;
    if (x > s.length || x <= this.fence) throw this.underflow();
    if (x === s.length) return;
    const target = s[x - 1]!;
    // bytearray.extend takes ints 0..255: the walker does not track values, so it may succeed.
    if (target.kind !== 'list' && target.kind !== 'bytearray' && target.kind !== 'any') {
      throw new Raise(`'${pyType(target)}' object has no attribute 'append'`);
    }
    s.length = x;
  }

  /** do_setitems: target[key] = value for each pair above `x`. */
  private setItems(x: number): void {
    const s = this.stack;
    if (x > s.length || x <= this.fence) throw this.underflow();
    if (x === s.length) return;
    if ((s.length - x) % 2 !== 0) throw new Raise('odd number of items for SETITEMS');
    const target = s[x - 1]!;
    for (let k = x; k < s.length; k += 2) {
      const key = s[k]!;
      if (target.kind === 'dict') this.mustHash(key);
      else if (target.kind === 'list' || target.kind === 'bytearray') {
        // An int index in range works; the walker does not track lengths.
        if (!['int', 'bool', 'any'].includes(key.kind)) {
          throw new Raise(`${pyType(target)} indices must be integers, not ${pyType(key)}`);
        }
      } else if (target.kind !== 'any') {
        throw new Raise(`'${pyType(target)}' object does not support item assignment`);
      }
    }
    s.length = x;
  }

  /** BUILD on a built-in object (no __setstate__, no __dict__): only a None state is accepted. */
  private build(state: Val): void {
    let st = state;
    let slot: Val | undefined;
    if (state.kind === 'tuple' && state.items?.length === 2) {
      st = state.items[0]!;
      slot = state.items[1]!;
    }
    if (st.kind !== 'none') {
      throw new Raise(
        st.kind === 'dict' || st.kind === 'any' ? 'object has no __dict__' : 'state is not a dictionary',
      );
    }
    // An empty slot-state dict sets nothing; the walker does not track emptiness.
    if (slot !== undefined && slot.kind !== 'dict' && slot.kind !== 'any') {
      throw new Raise('slot state is not a dictionary');
    }
  }
}

type LineKind = 'ascii' | 'utf8' | 'number' | 'any';

/** Why CPython rejects a line that starts with `b`, however it ends; undefined when it may pass. */
function partialLineError(b: Uint8Array, kind: LineKind): string | undefined {
  if (kind === 'ascii') return isAscii(b) ? undefined : "'ascii' codec can't decode the line";
  if (kind === 'utf8') return utf8Prefix(b) ? undefined : "'utf-8' codec can't decode the line";
  if (kind === 'number') {
    // Numbers are parsed as C strings: after a NUL anything goes; before it only these characters.
    for (const c of b) {
      if (c === 0) return undefined;
      const ok =
        (c >= 0x30 && c <= 0x39) ||
        (c >= 0x41 && c <= 0x5a) ||
        (c >= 0x61 && c <= 0x7a) ||
        c === 0x2b ||
        c === 0x2d ||
        c === 0x2e ||
        c === 0x5f ||
        c === 0x20 ||
        (c >= 0x09 && c <= 0x0d);
      if (!ok) return 'could not convert the line to a number';
    }
  }
  return undefined;
}

/** Whether `b` can begin valid UTF-8 (a sequence cut at its end may still complete). */
function utf8Prefix(b: Uint8Array): boolean {
  const cut = Math.max(0, b.length - 3);
  let i = 0;
  while (i < cut) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return false;
    if (utf8Decode(b.subarray(i, i + n + 1), false) === undefined) return false;
    i += n + 1;
  }
  return true;
}

const SSIZE_MAX = (1n << 63n) - 1n;
const SSIZE_MIN = -(1n << 63n);

/**
 * Whether importing `module` can find anything (see Walker.importing). importlib looks the first
 * component up as a directory entry of a sys.path folder (`<name>.py`, a package, an extension), so a
 * name holding a space, `=`, `:`, a quote, a control character or a path separator only imports where
 * someone placed a file of exactly that name, which a model artifact cannot do without shipping it as
 * a file of its own (classified `code`, refused by default). This keeps text that merely starts with
 * `c` or `i` (`certifi==2.0`, `import os`, a tar header `config.json\0...`) from reading as an import.
 * Non-ASCII characters and `-` stay importable: conservative.
 */
export function importable(module: string): boolean {
  const first = module.split('.')[0]!;
  // ".x" is looked up by the component after the dot: conservatively importable.
  if (first === '') return true;
  // A NUL anywhere makes the whole import fail. importlib first imports the parents before the
  // component holding it (`onfig` for a tar header `config.json\0...`), so a parent that exists would
  // still be imported for its side effects; nothing can be called, since the opcode raises. Accepted
  // (docs/adr/0007): every tar whose first member starts with `c` or `i` reads this way.
  if (module.includes('\0')) return false;
  for (const ch of first) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x80) continue;
    if (!/[A-Za-z0-9_-]/.test(ch)) return false;
  }
  return true;
}

function maybeStr(v: Val): boolean {
  return v.kind === 'str' || v.kind === 'str8' || v.kind === 'any';
}

function pyType(v: Val): string {
  switch (v.kind) {
    case 'none':
      return 'NoneType';
    case 'str8':
      return 'str';
    case 'any':
      return 'object';
    default:
      return v.kind;
  }
}

function shortName(module: string, name: string): string {
  const clip = (t: string) => (t.length > 80 ? `${t.slice(0, 80)}…` : t);
  return JSON.stringify(`${clip(module)}.${clip(name)}`);
}

// ---- argument parsing as CPython does it --------------------------------------------------------

/** The line as the C string CPython parses: it ends at the first NUL (the '\n' is trailing space). */
function cString(content: Uint8Array): string {
  const nul = content.indexOf(0);
  return latin1Text(nul >= 0 ? content.subarray(0, nul) : content);
}

function latin1Text(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i += 4096) {
    out += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 4096)));
  }
  return out;
}

function isAscii(b: Uint8Array): boolean {
  for (const c of b) if (c >= 0x80) return false;
  return true;
}

const PY_SPACE = ' \t\n\r\x0b\x0c';

function digitValue(c: string): number {
  const x = c.charCodeAt(0);
  if (x >= 0x30 && x <= 0x39) return x - 0x30;
  if (x >= 0x61 && x <= 0x7a) return x - 0x61 + 10;
  if (x >= 0x41 && x <= 0x5a) return x - 0x41 + 10;
  return 99;
}

/** PyLong_FromString(s, NULL, base) for base 0 or 10: the value, or undefined when CPython raises. */
export function pyLong(s: string, base: 0 | 10): bigint | undefined {
  let i = 0;
  while (i < s.length && PY_SPACE.includes(s[i]!)) i++;
  let sign = 1n;
  if (s[i] === '+') i++;
  else if (s[i] === '-') {
    sign = -1n;
    i++;
  }
  let b: number = base;
  let errorIfNonzero = false;
  if (b === 0) {
    const x = s[i + 1]?.toLowerCase();
    if (s[i] !== '0') b = 10;
    else if (x === 'x') b = 16;
    else if (x === 'o') b = 8;
    else if (x === 'b') b = 2;
    else {
      b = 10;
      errorIfNonzero = true;
    }
  }
  if (s[i] === '0') {
    const x = s[i + 1]?.toLowerCase();
    if ((b === 16 && x === 'x') || (b === 8 && x === 'o') || (b === 2 && x === 'b')) {
      i += 2;
      if (s[i] === '_') i++;
    }
  }
  if (s[i] === '_') return undefined;
  // Only the first digits matter for a value (keys beyond 2^63 raise anyway): no quadratic BigInt work.
  let value = 0n;
  let digits = 0;
  let nonzero = false;
  let prev = '';
  const bigBase = BigInt(b);
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (c === '_') {
      if (prev === '_') return undefined;
    } else {
      const d = digitValue(c);
      if (d >= b) break;
      if (d !== 0) nonzero = true;
      if (nonzero && digits < 80) {
        value = value * bigBase + BigInt(d);
        digits++;
      } else if (!nonzero) digits = Math.max(digits, 1);
      else value = 1n << 300n;
    }
    prev = c;
  }
  if (prev === '_' || digits === 0) return undefined;
  if (errorIfNonzero && nonzero) return undefined;
  while (i < s.length && PY_SPACE.includes(s[i]!)) i++;
  if (i !== s.length) return undefined;
  return sign * value;
}

/** load_int: C strtol(s, &end, 0) up to the line's end, or else int(s, 0). */
function cIntAccepts(content: Uint8Array): boolean {
  const s = cString(content);
  if (strtolAccepts(s)) return true;
  return pyLong(s, 0) !== undefined;
}

/** glibc strtol with base 0, accepted when it ends at the string's end without overflow. */
function strtolAccepts(s: string): boolean {
  let i = 0;
  while (i < s.length && PY_SPACE.includes(s[i]!)) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  let base = 10;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digitValue(s[i + 2] ?? '') < 16) {
    base = 16;
    i += 2;
  } else if (s[i] === '0') base = 8;
  let value = 0n;
  let digits = 0;
  const cap = 1n << 64n;
  for (; i < s.length && digitValue(s[i]!) < base; i++) {
    if (value < cap) value = value * BigInt(base) + BigInt(digitValue(s[i]!));
    digits++;
  }
  // No digits: end points at the start of the string, which is its end only when it is empty.
  if (digits === 0) return s.length === 0;
  if (i !== s.length) return false;
  const limit = neg ? 1n << 63n : (1n << 63n) - 1n;
  return value <= limit;
}

/** load_float: PyOS_string_to_double to the line's end (no spaces; overflow raises). */
function cFloatAccepts(s: string): boolean {
  if (/^[+-]?(inf|infinity|nan)$/i.test(s)) return true;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return false;
  const x = Number(s);
  return Number.isFinite(x);
}

/** PyBytes_DecodeEscape's errors: a trailing backslash, or \x without two hex digits. */
function escapeError(b: Uint8Array): string | undefined {
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 0x5c) continue;
    i++;
    if (i >= b.length) return 'Trailing \\ in string';
    if (b[i] === 0x78) {
      const h1 = b[i + 1];
      const h2 = b[i + 2];
      if (h1 === undefined || h2 === undefined || !isHex(h1) || !isHex(h2)) {
        return `invalid \\x escape at position ${i - 1}`;
      }
      i += 2;
    }
  }
  return undefined;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** raw-unicode-escape: \u needs 4 hex digits, \U 8 up to U+10FFFF; other backslashes are literal. */
function rawUnicodeEscapeValid(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 0x5c || i + 1 >= b.length) continue;
    const c = b[i + 1];
    i++;
    if (c !== 0x75 && c !== 0x55) continue;
    const count = c === 0x75 ? 4 : 8;
    let ch = 0;
    for (let k = 1; k <= count; k++) {
      const h = b[i + k];
      if (h === undefined || !isHex(h)) return false;
      ch = ch * 16 + Number.parseInt(String.fromCharCode(h), 16);
    }
    if (ch > 0x10ffff) return false;
    i += count;
  }
  return true;
}

/** CPython's UTF-8 decoder: strict, or surrogatepass (encoded surrogates accepted). */
function utf8Decode(b: Uint8Array, surrogatePass: boolean): string | undefined {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    let need: number;
    let cp: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else return undefined;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff) return undefined;
    if (cp >= 0xd800 && cp <= 0xdfff && !surrogatePass) return undefined;
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

// ---- drivers ------------------------------------------------------------------------------------

/**
 * Walks the opcode stream of `src` from its first byte as CPython's unpickler would run it: `pickle`
 * when it loads or reaches code (`code: true`), `not-pickle` when CPython raises first, `undecided`
 * when the budget runs out (callers fail closed). `head` holds the first bytes already read.
 */
export async function walkPickle(
  src: PickleByteSource,
  head: Uint8Array,
  opts: PickleWalkOptions = {},
): Promise<PickleVerdict> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const w = new Walker(head, src.size, opts);
  let readBytes = 0;
  let reads = 0;
  let chunk = FIRST_CHUNK;
  for (;;) {
    const r = w.run(OPS_PER_SLICE);
    if (r.kind === 'verdict') return r.verdict;
    if (r.kind === 'pause') {
      // A long in-memory walk must not hold the event loop.
      await new Promise<void>((resolve) => setImmediate(resolve));
      continue;
    }
    const need = r.need;
    // Every read must move the walk on; a walker bug must not become a hang.
    if (++reads > maxBytes / 512 + 10_000) {
      return {
        kind: 'undecided',
        evidence: `pickle walk stopped at offset ${w.offset}: too many reads (${reads})`,
      };
    }
    if (readBytes + need.length > maxBytes) {
      return {
        kind: 'undecided',
        evidence: `pickle walk stopped at offset ${w.offset} after ${w.opsSeen} opcodes: reading ${need.length} more bytes would pass its ${maxBytes}-byte budget`,
      };
    }
    let length = need.length;
    if (!need.probe) {
      // Read ahead in growing chunks, within the stream and the budget.
      length = Math.max(length, chunk);
      chunk = Math.min(MAX_CHUNK, chunk * 2);
      if (src.size !== undefined) length = Math.min(length, src.size - need.start);
      length = Math.max(need.length, Math.min(length, maxBytes - readBytes));
    }
    let got: Uint8Array;
    try {
      got = length > 0 ? await src.read(need.start, length) : new Uint8Array(0);
    } catch (e) {
      if (e instanceof ReadBudgetExceeded) {
        return { kind: 'undecided', evidence: `pickle walk stopped at offset ${w.offset}: ${e.message}` };
      }
      throw e;
    }
    if (got.length > length) got = got.subarray(0, length);
    readBytes += got.length;
    const bad = w.supply(new Need(need.start, length, need.probe), got);
    if (bad !== undefined) return { kind: 'undecided', evidence: `pickle walk: ${bad.why}` };
  }
}

/**
 * The same walk over the first bytes of a file only (synchronous). A stream that reaches STOP or
 * code within `head` is a pickle; one CPython rejects within `head` is not; a head that ends first is
 * a pickle when it begins with PROTO or stays well-formed over a long prefix (a bounded guess: the
 * full walk, walkPickle, decides).
 */
export function sniffPickle(head: Uint8Array): PickleSniff | undefined {
  const w = new Walker(head, undefined, { maxOps: Number.MAX_SAFE_INTEGER });
  for (;;) {
    const r = w.run(Number.MAX_SAFE_INTEGER);
    if (r.kind === 'pause') continue;
    if (r.kind === 'verdict') {
      const v = r.verdict;
      if (v.kind !== 'pickle') return undefined;
      if (w.startsWithProto && !v.code) {
        return { protocol: v.protocol, evidence: `pickle PROTO opcode 0x80 with protocol ${v.protocol}` };
      }
      return { protocol: v.protocol, evidence: v.evidence };
    }
    // The head ended inside a well-formed stream.
    if (w.startsWithProto && head[1]! <= HIGHEST_PROTOCOL) {
      return { protocol: head[1]!, evidence: `pickle PROTO opcode 0x80 with protocol ${head[1]}` };
    }
    if (w.offset >= LONG_VALID_PREFIX && w.opsSeen >= MIN_OPCODES_FOR_PREFIX) {
      return {
        protocol: w.protocol,
        evidence: `pickle protocol ${w.protocol} opcode stream (${w.opsSeen} well-formed opcodes in the first ${w.offset} bytes)`,
      };
    }
    return undefined;
  }
}
