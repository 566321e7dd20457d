#!/usr/bin/env node
import * as nodeModule from 'node:module';
import { nodeVersionProblem } from './node-version.ts';

// The version is checked before the program and its dependencies are loaded (hence the dynamic import):
// under an older Node they fail late and obscurely, or not at all until a request comes.
const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`modelgate: ${problem}\n`);
  // 2, as for every start-up refusal (docs/cli.md): nothing was decided.
  process.exitCode = 2;
} else {
  // V8's code cache on disk (Node 22.1+): later starts skip compiling the CLI's modules again (about
  // 60 ms of a bundled `verify`). Off with NODE_DISABLE_COMPILE_CACHE=1; the directory is
  // NODE_COMPILE_CACHE, else one in the OS temporary directory.
  nodeModule.enableCompileCache?.();
  const { main } = await import('./program.ts');
  process.exitCode = await main(process.argv.slice(2));
}
