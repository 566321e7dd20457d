// Writes the ModelPolicy CRD, generated from src/policy/schema.ts, to the
// places users install it from. test/unit/policy/crd.test.ts fails when a
// committed copy differs from what this would write.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CRD_FILES, renderCrdYaml } from '../src/policy/crd-files.ts';

for (const file of CRD_FILES) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderCrdYaml());
  console.log(`wrote ${file}`);
}
