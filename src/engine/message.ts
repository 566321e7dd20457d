import type { Decision, Finding } from './decision.ts';

const MAX_MESSAGE = 12_000;
const MAX_WARNINGS = 40;
const MAX_WARNING_LENGTH = 256; // the API server's own limit per warning

/** One line per finding: what, where, which policy, why, and how to fix it. */
export function findingLine(f: Finding): string {
  const policy = f.policy ? `policy ${f.policy}` : 'no policy';
  return `${f.reference} (${f.fieldPath}): ${f.code} [${policy}] ${f.message}. Fix: ${f.fix}`;
}

/**
 * Aggregates findings per policy mode: an Enforce finding denies, a Warn
 * finding becomes an AdmissionReview warning, an Audit finding only stays in
 * `findings` (the caller records it). Pure.
 */
export function decide(findings: readonly Finding[], objectDescription: string): Decision {
  const enforce = findings.filter((f) => f.mode === 'Enforce');
  const warn = findings.filter((f) => f.mode === 'Warn');
  const warnings = warn
    .slice(0, MAX_WARNINGS)
    .map((f) => truncate(`modelgate: ${findingLine(f)}`, MAX_WARNING_LENGTH));
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
