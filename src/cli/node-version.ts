/**
 * The Node version check made before anything else is loaded. Under an older Node modelgate does not
 * fail at start but later, somewhere inside a dependency (under Node 20, `serve --kubernetes` dies in
 * undici's fetch), so the version is checked first and refused with a message that says what to run.
 * This module imports nothing: it must load under any Node that can read the entry point.
 */

/** The oldest Node major version modelgate runs on (package.json `engines`, .nvmrc). */
export const MIN_NODE_MAJOR = 24;

/** Why this Node cannot run modelgate, or undefined when it can. `version` is `process.versions.node`. */
export function nodeVersionProblem(version: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) return undefined;
  return (
    `Node ${MIN_NODE_MAJOR} or later is required (this is Node ${version}). ` +
    `From a checkout, \`npm run modelgate -- ARGS\` installs Node ${MIN_NODE_MAJOR} into ~/.cache/modelgate ` +
    'and runs it (docs/cli.md); otherwise install Node 24 (https://nodejs.org) and run modelgate with it.'
  );
}
