// Writes the chart's static matchCondition (every image; modelgate narrows it once it has listed the
// ModelPolicies), generated from src/kube/match-conditions.ts. test/unit/kube/match-conditions.test.ts
// fails when the committed copy differs from what this would write.
import { writeFileSync } from 'node:fs';
import { ALL_IMAGES, CHART_CONDITION_FILE, mayNameModelExpression } from '../src/kube/match-conditions.ts';

writeFileSync(CHART_CONDITION_FILE, `${mayNameModelExpression(ALL_IMAGES)}\n`);
console.log(`wrote ${CHART_CONDITION_FILE}`);
