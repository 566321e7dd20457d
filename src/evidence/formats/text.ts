// The harmless files of model repositories, identified by their bytes: JSON, UTF-8 text (Markdown, YAML,
// licences, chat templates, vocabularies), tokenizer models (SentencePiece protobufs, tiktoken ranks) and
// images. Callers run the pickle walk first: a protocol 0 pickle is ASCII text too, and pickle wins.
// `complete` says whether the bytes judged are the whole file or only its first bytes.

import type { ModelFormat } from '../../policy/schema.ts';
import { hasBytes, varint } from '../bytes.ts';

export interface DataSniff {
  readonly format: ModelFormat;
  readonly evidence: string;
}

/** JSON documents larger than this are checked for shape (UTF-8, bracketed), not parsed: parsing blocks. */
const MAX_JSON_PARSE = 1024 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of `b` when it is UTF-8 without NUL and control characters; a cut multi-byte tail is allowed when incomplete. */
export function utf8TextOf(b: Uint8Array, complete: boolean): string | undefined {
  let bytes = b;
  if (!complete) {
    // The head may end inside a character: drop up to 3 trailing continuation/lead bytes.
    let cut = bytes.length;
    for (let k = 0; k < 3 && cut > 0 && (bytes[cut - 1]! & 0xc0) === 0x80; k++) cut--;
    if (cut > 0 && bytes[cut - 1]! >= 0xc0) cut--;
    bytes = bytes.subarray(0, cut);
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Tab, newline, vertical tab, form feed, carriage return and escape occur in real text files.
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0b && c !== 0x0c && c !== 0x0d && c !== 0x1b) {
      return undefined;
    }
    if (c === 0x7f) return undefined;
  }
  return text;
}

/** JSON (parsed when whole and small), else UTF-8 text; undefined for binary bytes. */
export function sniffText(b: Uint8Array, complete: boolean, size: number): DataSniff | undefined {
  const text = utf8TextOf(b, complete);
  if (text === undefined || text.length === 0) return undefined;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const trimmed = body.trim();
  const part = complete ? '' : ` (first ${b.length} of ${size} bytes judged)`;
  const first = trimmed[0];
  if (first === '{' || first === '[') {
    if (complete && b.length <= MAX_JSON_PARSE) {
      try {
        JSON.parse(body);
        return { format: 'json', evidence: `JSON document of ${b.length} bytes` };
      } catch {
        // Not JSON after all: plain text, judged below.
      }
    } else {
      const last = trimmed.at(-1);
      if (!complete || (first === '{' && last === '}') || (first === '[' && last === ']')) {
        return {
          format: 'json',
          evidence: `UTF-8 text shaped as JSON${part || ' (too long to parse here)'}`,
        };
      }
    }
  }
  return { format: 'text', evidence: `UTF-8 text${part}` };
}

/** Python source, shell scripts and native code: what an interpreter or the dynamic loader runs. */
export function sniffCode(head: Uint8Array): DataSniff | undefined {
  if (hasBytes(head, 0, [0x7f, 0x45, 0x4c, 0x46]))
    return { format: 'code', evidence: 'ELF executable or shared library' };
  // PE: "MZ", and the offset at 0x3c points at the "PE\0\0" signature.
  const pe = head.length >= 64 ? head[0x3c]! | (head[0x3d]! << 8) : -1;
  if (hasBytes(head, 0, [0x4d, 0x5a]) && pe > 0 && hasBytes(head, pe, [0x50, 0x45, 0, 0])) {
    return { format: 'code', evidence: 'PE executable or DLL' };
  }
  const macho = [
    [0xfe, 0xed, 0xfa, 0xce],
    [0xfe, 0xed, 0xfa, 0xcf],
    [0xce, 0xfa, 0xed, 0xfe],
    [0xcf, 0xfa, 0xed, 0xfe],
  ];
  if (macho.some((m) => hasBytes(head, 0, m)))
    return { format: 'code', evidence: 'Mach-O executable or library' };
  if (hasBytes(head, 0, [0x23, 0x21]))
    return { format: 'code', evidence: 'script with a #! interpreter line' };
  return undefined;
}

/** YAML tags that make PyYAML's unsafe loaders import and call Python objects. */
export function yamlPythonTag(text: string): string | undefined {
  return /!!python\/[a-z_]+(?::[\w.]+)?/.exec(text)?.[0];
}

/** PNG, JPEG, GIF and WebP images (documentation assets). */
export function sniffImage(head: Uint8Array): DataSniff | undefined {
  if (hasBytes(head, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    return { format: 'image', evidence: 'PNG image' };
  if (hasBytes(head, 0, [0xff, 0xd8, 0xff])) return { format: 'image', evidence: 'JPEG image' };
  if (
    hasBytes(head, 0, [0x47, 0x49, 0x46, 0x38]) &&
    (head[4] === 0x37 || head[4] === 0x39) &&
    head[5] === 0x61
  ) {
    return { format: 'image', evidence: 'GIF image' };
  }
  if (hasBytes(head, 0, [0x52, 0x49, 0x46, 0x46]) && hasBytes(head, 8, [0x57, 0x45, 0x42, 0x50])) {
    return { format: 'image', evidence: 'WebP image' };
  }
  return undefined;
}

/** tiktoken rank files: every line `<base64 token> <rank>`. */
export function sniffTiktoken(b: Uint8Array, complete: boolean): DataSniff | undefined {
  const text = utf8TextOf(b, complete);
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  if (!complete) lines.pop(); // possibly cut
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) return undefined;
  for (const line of lines) {
    if (!/^[A-Za-z0-9+/]+={0,2} \d{1,10}\r?$/.test(line)) return undefined;
  }
  return {
    format: 'tokenizer',
    evidence: `tiktoken ranks (${lines.length} lines of base64 token and rank${complete ? '' : ' in the first bytes'})`,
  };
}

// sentencepiece_model.proto ModelProto: 1 pieces, 2 trainer_spec, 3 normalizer_spec, 4 self_test_data,
// 5 denormalizer_spec: all messages (wire type 2). A piece: 1 piece (string), 2 score (float), 3 type (enum).
const SP_MODEL_FIELDS = new Set([1, 2, 3, 4, 5]);
const SP_PIECE_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, 2],
  [2, 5],
  [3, 0],
]);

/** A SentencePiece model: a protobuf ModelProto whose every top-level field and piece is well formed. */
export function sniffSentencePiece(b: Uint8Array, complete: boolean): DataSniff | undefined {
  let pos = 0;
  let pieces = 0;
  let fields = 0;
  while (pos < b.length) {
    const tag = varint(b, pos);
    if (tag === 'truncated') break;
    if (tag === undefined) return undefined;
    const field = Math.floor(tag.value / 8);
    if (tag.value % 8 !== 2 || !SP_MODEL_FIELDS.has(field)) return undefined;
    if (fields === 0 && field !== 1) return undefined; // the pieces come first
    const len = varint(b, tag.next);
    if (len === 'truncated') break;
    if (len === undefined) return undefined;
    const end = len.next + len.value;
    if (end > b.length) {
      if (complete) return undefined;
      break;
    }
    if (field === 1) {
      if (!wellFormedPiece(b.subarray(len.next, end))) return undefined;
      pieces++;
    }
    fields++;
    pos = end;
  }
  if (pieces < 1 || (complete && pos !== b.length)) return undefined;
  return {
    format: 'tokenizer',
    evidence: `SentencePiece model (protobuf, ${pieces} pieces${complete ? '' : ' in the first bytes'})`,
  };
}

function wellFormedPiece(p: Uint8Array): boolean {
  let pos = 0;
  let sawPiece = false;
  while (pos < p.length) {
    const tag = varint(p, pos);
    if (tag === undefined || tag === 'truncated') return false;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (SP_PIECE_FIELDS.get(field) !== wire) return false;
    if (wire === 0) {
      const v = varint(p, tag.next);
      if (v === undefined || v === 'truncated') return false;
      pos = v.next;
    } else if (wire === 5) {
      pos = tag.next + 4;
    } else {
      const len = varint(p, tag.next);
      if (len === undefined || len === 'truncated') return false;
      pos = len.next + len.value;
      sawPiece = true;
    }
    if (pos > p.length) return false;
  }
  return sawPiece;
}
