import type { Decision, Finding } from './decision.ts';

const MAX_MESSAGE = 12_000;
const MAX_WARNINGS = 40;
/** The API server's own limit per warning, in runes (review.ts's MAX_WARNING_RUNES). */
export const MAX_WARNING_RUNES = 256;

/**
 * Text as the body of one sentence: surrounding space and trailing full stops removed. Every composition
 * adds its own single '.', so a message or fix that already ends with one cannot come out doubled.
 */
export function clause(text: string): string {
  return text.trim().replace(/[\s.]+$/u, '');
}

/** `message. Fix: fix`, punctuated once whatever either ends with. */
export function withFix(message: string, fix: string): string {
  return `${clause(message)}. Fix: ${clause(fix)}`;
}

/** One line per finding: what, where, which policy, why, and how to fix it. */
export function findingLine(f: Finding): string {
  const policy = f.policy ? `policy ${f.policy}` : 'no policy';
  return `${f.reference} (${f.fieldPath}): ${f.code} [${policy}] ${withFix(f.message, f.fix)}`;
}

/** Counts in runes (what the API server limits warnings by) or in UTF-8 bytes (what it limits notes by). */
export type Measure = (s: string) => number;
export const runes: Measure = (s) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
export const utf8Bytes: Measure = (s) => Buffer.byteLength(s, 'utf8');

/**
 * A finding in at most `max` units that leads with what an operator filters and acts on: the code and
 * the reference first, the fix kept whole. What gives way when it does not fit, in order: the field
 * path, the message (cut with '…', then dropped), the reference (cut), and only then the fix.
 * `CODE reference (modelgate policy P, field path): message. Fix: fix`. Pure.
 */
export function compactFinding(f: Finding, max: number, measure: Measure = runes): string {
  const who = f.policy ? `modelgate policy ${f.policy}` : 'modelgate, no policy';
  const fix = clause(f.fix);
  const message = clause(f.message);
  const compose = (ref: string, where: string, msg: string | undefined, fixText: string) =>
    `${f.code} ${ref} (${where})${msg === undefined ? '' : `: ${msg}`}. Fix: ${fixText}`;
  const full = compose(f.reference, `${who}, ${f.fieldPath}`, message, fix);
  if (measure(full) <= max) return full;
  // Without the field path, then with as much of the message as fits (at least a few words' worth).
  const bare = compose(f.reference, who, '', fix);
  const room = max - measure(bare);
  if (room >= measure(message)) return compose(f.reference, who, message, fix);
  if (room >= 24) return compose(f.reference, who, cutTo(message, room, measure), fix);
  const noMessage = compose(f.reference, who, undefined, fix);
  if (measure(noMessage) <= max) return noMessage;
  // A very long reference: cut it, keeping its start (registry and repository) and the fix.
  const refRoom = max - measure(compose('', who, undefined, fix));
  if (refRoom >= 24) return compose(cutTo(f.reference, refRoom, measure), who, undefined, fix);
  return cutTo(noMessage, max, measure);
}

/** `s` cut to at most `max` units, marked with '…' when cut; never splits a character. */
export function cutTo(s: string, max: number, measure: Measure = runes): string {
  if (measure(s) <= max) return s;
  const mark = '…';
  const budget = max - measure(mark);
  let out = '';
  let used = 0;
  // Both measures add up character by character.
  for (const ch of s) {
    used += measure(ch);
    if (used > budget) break;
    out += ch;
  }
  return out + mark;
}

/**
 * Aggregates findings per policy mode: an Enforce finding denies, a Warn
 * finding becomes an AdmissionReview warning, an Audit finding only stays in
 * `findings` (the caller records it). Pure.
 */
export function decide(findings: readonly Finding[], objectDescription: string): Decision {
  const enforce = findings.filter((f) => f.mode === 'Enforce');
  const warn = findings.filter((f) => f.mode === 'Warn');
  const warnings = warn.slice(0, MAX_WARNINGS).map((f) => compactFinding(f, MAX_WARNING_RUNES));
  if (warn.length > MAX_WARNINGS)
    warnings.push(`modelgate: ${warn.length - MAX_WARNINGS} more warnings not shown`);
  if (enforce.length === 0) return { allowed: true, warnings, findings };

  const refs = new Set(enforce.map((f) => `${f.reference}\0${f.fieldPath}`)).size;
  const head = `modelgate refused ${objectDescription}: ${refs} model reference${refs === 1 ? '' : 's'} failed verification`;
  const lines = enforce.map((f) => `- ${findingLine(f)}`);
  const status = enforce.every((f) => f.code === 'REQUEST_INVALID') ? 400 : 403;
  return {
    allowed: false,
    status,
    message: truncate([head, ...lines].join('\n'), MAX_MESSAGE),
    warnings,
    findings,
  };
}

function truncate(s: string, max: number): string {
  const suffix = '... (truncated)';
  return s.length <= max ? s : `${s.slice(0, max - suffix.length)}${suffix}`;
}
