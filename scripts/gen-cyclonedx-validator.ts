// Writes the precompiled CycloneDX 1.6 validator (see scripts/cyclonedx-validator.ts). Run it after
// upgrading @cyclonedx/cyclonedx-library or ajv:  bash scripts/run.sh exec node scripts/gen-cyclonedx-validator.ts
import { writeFileSync } from 'node:fs';
import { renderCycloneDxValidator, VALIDATOR_FILE } from './cyclonedx-validator.ts';

writeFileSync(VALIDATOR_FILE, renderCycloneDxValidator());
console.log(`wrote ${VALIDATOR_FILE}`);
