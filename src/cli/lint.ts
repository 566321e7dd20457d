import { EXIT } from './io.ts';
import { formatPolicyErrors, loadPolicyFiles } from './policies.ts';

/** `modelgate policy lint F...`: 0 when every policy is valid, 1 otherwise. */
export function lintCommand(files: readonly string[], flags: { json?: boolean }): number {
  const { snapshot, errors } = loadPolicyFiles(files);
  if (flags.json) {
    const out = {
      valid: errors.length === 0,
      policies: snapshot.policies.map((p) => p.name),
      errors: errors.flatMap((e) =>
        e.errors.map((x) => ({
          source: e.source,
          ...(e.name ? { policy: e.name } : {}),
          path: x.path,
          message: x.message,
        })),
      ),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (errors.length > 0) {
    process.stdout.write(`${formatPolicyErrors(errors)}\n`);
  } else {
    process.stdout.write(
      `${snapshot.policies.length} polic${snapshot.policies.length === 1 ? 'y' : 'ies'} valid\n`,
    );
  }
  return errors.length === 0 ? EXIT.OK : EXIT.LINT_ERRORS;
}
