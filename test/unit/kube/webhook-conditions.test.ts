// Keeping the webhook's matchCondition in step with the policies, against the in-memory KubeApi.
import { describe, expect, it } from 'vitest';
import {
  ALL_IMAGES,
  imageTest,
  MATCH_CONDITION_NAME,
  mayNameModelCondition,
} from '../../../src/kube/match-conditions.ts';
import { WebhookConditions } from '../../../src/kube/webhook-conditions.ts';
import { FakeKubeApi, silentLogger } from './fakes.ts';

const THEIRS = { name: 'example.com/skip-tests', expression: 'true' };

function setup(webhooks = [{ name: 'validate.modelgate.dev' }]) {
  const api = new FakeKubeApi();
  api.webhook = { uid: 'u1', resourceVersion: '1', webhooks: webhooks.map((w) => ({ ...w })) };
  let globs: string[] | undefined;
  const conditions = new WebhookConditions({
    api,
    webhookConfiguration: 'modelgate',
    globs: () => globs,
    logger: silentLogger,
    debounceMs: 1,
    retryBaseMs: 1,
  });
  return {
    api,
    conditions,
    list(g: string[] | undefined) {
      globs = g;
    },
  };
}

const conditionsOf = (api: FakeKubeApi, i = 0) => api.webhook!.webhooks[i]!.matchConditions;

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('WebhookConditions', () => {
  it('sends every image until the policies are listed, then only what their globs cover', async () => {
    const { api, conditions, list } = setup();
    expect(await conditions.reconcile()).toBe('written');
    expect(conditionsOf(api)).toEqual([mayNameModelCondition(ALL_IMAGES)]);
    list(['registry.example.com/models/**']);
    expect(await conditions.reconcile()).toBe('written');
    expect(conditionsOf(api)).toEqual([mayNameModelCondition(imageTest(['registry.example.com/models/**']))]);
    // Nothing changed: no write.
    expect(await conditions.reconcile()).toBe('unchanged');
    expect(api.count('setWebhookMatchConditions')).toBe(2);
    // Forgetting the policies (no list) goes back to every image.
    list(undefined);
    await conditions.reconcile();
    expect(conditionsOf(api)).toEqual([mayNameModelCondition(ALL_IMAGES)]);
  });

  it("keeps the webhooks' other conditions and writes every webhook of the configuration", async () => {
    const { api, conditions, list } = setup([
      { name: 'validate.modelgate.dev', matchConditions: [THEIRS] } as never,
      { name: 'other.modelgate.dev' },
    ]);
    list([]);
    await conditions.reconcile();
    const mine = mayNameModelCondition({ kind: 'none' });
    expect(conditionsOf(api, 0)).toEqual([THEIRS, mine]);
    expect(conditionsOf(api, 1)).toEqual([mine]);
    expect(conditionsOf(api, 0)!.filter((c) => c.name === MATCH_CONDITION_NAME)).toHaveLength(1);
  });

  it('reads again after a conflicting write, and says so when the configuration is gone', async () => {
    const { api, conditions, list } = setup();
    list(['a.example/**']);
    const real = api.setWebhookMatchConditions.bind(api);
    let first = true;
    api.setWebhookMatchConditions = async (...args) => {
      if (first) {
        first = false;
        // Someone else wrote meanwhile: the resourceVersion moved.
        api.webhook!.resourceVersion = '99';
      }
      return real(...args);
    };
    expect(await conditions.reconcile()).toBe('written');
    expect(api.count('readWebhookConfiguration')).toBe(2);
    expect(conditionsOf(api)).toEqual([mayNameModelCondition(imageTest(['a.example/**']))]);
    api.webhook = undefined;
    expect(await conditions.reconcile()).toBe('not-found');
  });

  it('writes on start and after a change, retries a failure, and stops writing when stopped', async () => {
    const { api, conditions, list } = setup();
    api.failures.set('readWebhookConfiguration', 2);
    conditions.start();
    await until(() => conditions.written === 1);
    expect(api.count('readWebhookConfiguration')).toBeGreaterThanOrEqual(3);
    expect(conditionsOf(api)).toEqual([mayNameModelCondition(ALL_IMAGES)]);
    list(['b.example/**']);
    conditions.changed();
    await until(() => conditions.written === 2);
    expect(conditionsOf(api)).toEqual([mayNameModelCondition(imageTest(['b.example/**']))]);
    conditions.stop();
    list(['c.example/**']);
    conditions.changed();
    await new Promise((r) => setTimeout(r, 30));
    expect(conditions.written).toBe(2);
    // Stopping leaves the narrowed condition in place: that is what keeps the blast radius small.
    expect(conditionsOf(api)).toEqual([mayNameModelCondition(imageTest(['b.example/**']))]);
  });
});
