import { describe, expect, it } from 'vitest';
import { MIN_NODE_MAJOR, nodeVersionProblem } from '../../../src/cli/node-version.ts';

describe('nodeVersionProblem', () => {
  it('accepts Node 24 and later', () => {
    expect(MIN_NODE_MAJOR).toBe(24);
    for (const v of ['24.0.0', '24.21.0', '25.1.0', '100.0.0']) expect(nodeVersionProblem(v)).toBeUndefined();
  });

  it('refuses older Node, naming the version found and what to run instead', () => {
    for (const v of ['20.20.2', '22.18.0', '23.11.1', '8.0.0']) {
      const problem = nodeVersionProblem(v);
      expect(problem).toContain(`Node 24 or later is required (this is Node ${v})`);
      expect(problem).toContain('npm run modelgate -- ARGS');
    }
  });

  it('refuses a version it cannot read rather than guessing', () => {
    expect(nodeVersionProblem('')).toBeDefined();
    expect(nodeVersionProblem('banana')).toBeDefined();
  });
});
