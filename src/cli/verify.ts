import type { ReferenceVerdict } from '../engine/engine.ts';
import { findingLine } from '../engine/message.ts';
import { EXIT } from './io.ts';
import { type EngineFlags, engineFromFlags } from './setup.ts';

/** `modelgate verify REF`: 0 allowed, 1 denied, 2 usage. */
export async function verifyCommand(
  reference: string,
  flags: EngineFlags & { namespace?: string; json?: boolean },
): Promise<number> {
  const engine = engineFromFlags(flags);
  const verdict = await engine.verifyReference(reference, flags.namespace ?? 'default');
  process.stdout.write(flags.json ? `${JSON.stringify(toJson(verdict), null, 2)}\n` : toText(verdict));
  return verdict.allowed ? EXIT.OK : EXIT.DENIED;
}

/** The --json shape: a contract (docs/cli.md). Keys are only ever added. */
export function toJson(v: ReferenceVerdict) {
  return {
    reference: v.reference,
    normalized: v.normalized ?? null,
    allowed: v.allowed,
    reasons: v.findings.map((f) => ({
      code: f.code,
      message: f.message,
      policy: f.policy ?? null,
      mode: f.mode,
      fix: f.fix,
    })),
    policies: v.policies.map((p) => ({ name: p.name, mode: p.mode, report: p.report ?? null })),
  };
}

function toText(v: ReferenceVerdict): string {
  const lines = [`${v.allowed ? 'ALLOWED' : 'DENIED'} ${v.normalized ?? v.reference}`];
  if (v.policies.length > 0)
    lines.push(`policies: ${v.policies.map((p) => `${p.name} (${p.mode})`).join(', ')}`);
  for (const f of v.findings) lines.push(`  ${f.mode === 'Enforce' ? 'x' : '!'} ${findingLine(f)}`);
  return `${lines.join('\n')}\n`;
}
