/** Reads all of stdin, refusing more than `max` bytes. */
export async function readStdin(max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > max) throw new Error(`input larger than ${max} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Exit codes: a contract with pipelines (docs/cli.md). */
export const EXIT = Object.freeze({ OK: 0, DENIED: 1, LINT_ERRORS: 1, USAGE: 2, INTERNAL: 3 });

export class UsageError extends Error {
  override name = 'UsageError';
}
