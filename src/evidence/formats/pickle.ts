// Pickle detection from the first bytes of a file. Protocols 2-5 begin with the PROTO opcode (0x80) and
// the protocol number. Protocols 0 and 1 have no magic at all, so a bounded opcode walk with a small
// stack model decides: the bytes must read as a well-formed opcode stream (every opcode known, every
// argument well-formed, every opcode finding the stack items it consumes) that reaches STOP with one
// item left, or that stays well-formed over a long prefix. A false positive refuses a file; a false
// negative would admit code, so the walk leans towards "pickle".

export interface PickleSniff {
  readonly protocol: number;
  readonly evidence: string;
}

/** Longest argument line (GLOBAL module names, INT digits, STRING reprs) the walker accepts. */
const MAX_LINE = 4096;
/** A walk that stays valid over this many bytes without STOP counts as a pickle stream. */
const LONG_VALID_PREFIX = 512;
const MIN_OPCODES_FOR_PREFIX = 8;

type Arg = 'none' | 'line' | 'lines2' | 'u8' | 'u16' | 'u32' | 'u8len' | 'u32len' | 'f64';
// Stack effect: number of items popped, 'mark' (pops to the last mark), and whether one is pushed.
interface Op {
  readonly arg: Arg;
  readonly pop: number | 'mark';
  readonly push: 0 | 1;
  readonly markPush?: true;
  /** Items needed under the mark for mark-popping ops that modify an object below it. */
  readonly below?: number;
  readonly code?: true;
}

const OPS: Readonly<Record<string, Op>> = {
  '(': { arg: 'none', pop: 0, push: 0, markPush: true },
  '.': { arg: 'none', pop: 0, push: 0 },
  '0': { arg: 'none', pop: 1, push: 0 },
  '1': { arg: 'none', pop: 'mark', push: 0 },
  '2': { arg: 'none', pop: 1, push: 1 },
  N: { arg: 'none', pop: 0, push: 1 },
  Q: { arg: 'none', pop: 1, push: 1 },
  R: { arg: 'none', pop: 2, push: 1, code: true },
  a: { arg: 'none', pop: 2, push: 1 },
  b: { arg: 'none', pop: 2, push: 1, code: true },
  d: { arg: 'none', pop: 'mark', push: 1 },
  '}': { arg: 'none', pop: 0, push: 1 },
  e: { arg: 'none', pop: 'mark', push: 0, below: 1 },
  l: { arg: 'none', pop: 'mark', push: 1 },
  ']': { arg: 'none', pop: 0, push: 1 },
  o: { arg: 'none', pop: 'mark', push: 1, code: true },
  s: { arg: 'none', pop: 3, push: 1 },
  t: { arg: 'none', pop: 'mark', push: 1 },
  ')': { arg: 'none', pop: 0, push: 1 },
  u: { arg: 'none', pop: 'mark', push: 0, below: 1 },
  F: { arg: 'line', pop: 0, push: 1 },
  I: { arg: 'line', pop: 0, push: 1 },
  L: { arg: 'line', pop: 0, push: 1 },
  P: { arg: 'line', pop: 0, push: 1 },
  S: { arg: 'line', pop: 0, push: 1 },
  V: { arg: 'line', pop: 0, push: 1 },
  g: { arg: 'line', pop: 0, push: 1 },
  p: { arg: 'line', pop: 1, push: 1 },
  c: { arg: 'lines2', pop: 0, push: 1, code: true },
  i: { arg: 'lines2', pop: 'mark', push: 1, code: true },
  K: { arg: 'u8', pop: 0, push: 1 },
  h: { arg: 'u8', pop: 0, push: 1 },
  q: { arg: 'u8', pop: 1, push: 1 },
  M: { arg: 'u16', pop: 0, push: 1 },
  J: { arg: 'u32', pop: 0, push: 1 },
  j: { arg: 'u32', pop: 0, push: 1 },
  r: { arg: 'u32', pop: 1, push: 1 },
  U: { arg: 'u8len', pop: 0, push: 1 },
  T: { arg: 'u32len', pop: 0, push: 1 },
  X: { arg: 'u32len', pop: 0, push: 1 },
  G: { arg: 'f64', pop: 0, push: 1 },
};

/** Recognises a pickle stream from its first bytes; undefined when the bytes are not one. */
export function sniffPickle(head: Uint8Array): PickleSniff | undefined {
  if (head.length >= 2 && head[0] === 0x80) {
    const proto = head[1]!;
    if (proto >= 2 && proto <= 5) {
      return { protocol: proto, evidence: `pickle PROTO opcode 0x80 with protocol ${proto}` };
    }
    return undefined;
  }
  return walkLegacyPickle(head);
}

function walkLegacyPickle(b: Uint8Array): PickleSniff | undefined {
  // The stack holds items (true) and marks (false).
  const stack: boolean[] = [];
  let pos = 0;
  let ops = 0;
  let sawCode = false;
  let binary = false;
  const itemsOnTop = (n: number) => {
    if (stack.length < n) return false;
    for (let k = stack.length - n; k < stack.length; k++) if (!stack[k]) return false;
    return true;
  };
  const lastMark = () => stack.lastIndexOf(false);

  while (pos < b.length) {
    const code = String.fromCharCode(b[pos]!);
    const op = Object.hasOwn(OPS, code) ? OPS[code] : undefined;
    if (op === undefined) return undefined;
    let next = pos + 1;
    switch (op.arg) {
      case 'none':
        break;
      case 'line':
      case 'lines2': {
        const lines = op.arg === 'line' ? 1 : 2;
        for (let l = 0; l < lines; l++) {
          const end = lineEnd(b, next);
          if (end === 'truncated') return acceptPrefix(next, ops, sawCode, binary);
          if (end === undefined) return undefined;
          next = end + 1;
        }
        break;
      }
      case 'u8':
        next += 1;
        break;
      case 'u16':
        next += 2;
        break;
      case 'u32':
        next += 4;
        break;
      case 'f64':
        next += 8;
        break;
      case 'u8len':
        if (next >= b.length) return acceptPrefix(pos, ops, sawCode, binary);
        next += 1 + b[next]!;
        break;
      case 'u32len': {
        if (next + 4 > b.length) return acceptPrefix(pos, ops, sawCode, binary);
        const len = (b[next]! | (b[next + 1]! << 8) | (b[next + 2]! << 16)) + b[next + 3]! * 0x1000000;
        if (len > 0x7fffffff) return undefined;
        next += 4 + len;
        break;
      }
    }
    if (op.arg !== 'none' && op.arg !== 'line' && op.arg !== 'lines2') binary = true;
    if (next > b.length) return acceptPrefix(pos, ops, sawCode, binary);

    if (code === '.') {
      if (stack.length === 1 && stack[0] === true && ops >= 1) {
        return {
          protocol: binary ? 1 : 0,
          evidence: `pickle protocol ${binary ? 1 : 0} opcode stream ending in STOP after ${ops + 1} opcodes${sawCode ? ' (imports or calls Python objects)' : ''}`,
        };
      }
      return undefined;
    }
    if (op.markPush) {
      stack.push(false);
    } else if (op.pop === 'mark') {
      const m = lastMark();
      if (m < 0) return undefined;
      if (op.below !== undefined && !(m >= op.below && itemsBelow(stack, m, op.below))) return undefined;
      if (code === 'o' && stack.length - m - 1 < 1) return undefined;
      stack.length = m;
    } else if (op.pop > 0) {
      if (!itemsOnTop(op.pop)) return undefined;
      stack.length -= op.pop;
    }
    if (op.push) stack.push(true);
    if (op.code) sawCode = true;
    ops++;
    pos = next;
    if (stack.length > 100_000) return undefined;
  }
  return acceptPrefix(pos, ops, sawCode, binary);
}

function itemsBelow(stack: readonly boolean[], mark: number, n: number): boolean {
  for (let k = mark - n; k < mark; k++) if (!stack[k]) return false;
  return true;
}

/** The head ended inside a well-formed stream: a pickle only when the valid prefix is long. */
function acceptPrefix(
  consumed: number,
  ops: number,
  sawCode: boolean,
  binary: boolean,
): PickleSniff | undefined {
  if (consumed < LONG_VALID_PREFIX || ops < MIN_OPCODES_FOR_PREFIX) return undefined;
  return {
    protocol: binary ? 1 : 0,
    evidence: `pickle protocol ${binary ? 1 : 0} opcode stream (${ops} well-formed opcodes in the first ${consumed} bytes)${sawCode ? ', imports or calls Python objects' : ''}`,
  };
}

/** Index of the newline ending a text argument; 'truncated' when the head ends first. */
function lineEnd(b: Uint8Array, from: number): number | 'truncated' | undefined {
  const limit = Math.min(b.length, from + MAX_LINE);
  for (let k = from; k < limit; k++) {
    const c = b[k]!;
    if (c === 0x0a) return k;
    // Text arguments are repr()s, digits and dotted names: printable, plus raw-unicode-escape bytes.
    if (c < 0x20 && c !== 0x09 && c !== 0x0d) return undefined;
    if (c === 0x7f) return undefined;
  }
  return limit === b.length ? 'truncated' : undefined;
}
