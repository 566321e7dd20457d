import { describe, expect, it } from 'vitest';
import { ConfigError, serveConfig } from '../../../src/config.ts';

const IN_CLUSTER = {
  KUBERNETES_SERVICE_HOST: '10.96.0.1',
  POD_NAMESPACE: 'modelgate-system',
  POD_NAME: 'mg-0',
};

describe('serve --kubernetes configuration', () => {
  it('in a pod: service account, namespace and pod name from the downward API', () => {
    const c = serveConfig({ kubernetes: true }, IN_CLUSTER);
    expect(c.policySource).toBe('kubernetes');
    expect(c.kubernetes).toEqual({
      namespace: 'modelgate-system',
      podName: 'mg-0',
      secretNamespaces: [],
      podPullSecrets: false,
      events: true,
    });
    expect(Object.isFrozen(c.kubernetes)).toBe(true);
  });

  it('outside a cluster: --kubeconfig, or the first file of KUBECONFIG', () => {
    expect(serveConfig({ kubernetes: true, kubeconfig: '/k' }, {}).kubernetes?.kubeconfig).toBe('/k');
    expect(serveConfig({ kubernetes: true }, { KUBECONFIG: '/a:/b' }).kubernetes?.kubeconfig).toBe('/a');
  });

  it('self-managed TLS: names, Secret and the files to write', () => {
    const c = serveConfig(
      {
        kubernetes: true,
        tlsSelfManage: true,
        webhookConfig: 'modelgate',
        tlsSecret: 'mg-tls',
        service: 'mg',
        tlsSan: ['127.0.0.1', 'Webhook.Example.com'],
        secretNamespace: ['a', 'a', 'b'],
        podPullSecrets: true,
        events: false,
      },
      IN_CLUSTER,
    );
    expect(c.kubernetes).toMatchObject({
      secretNamespaces: ['a', 'b'],
      podPullSecrets: true,
      events: false,
      tls: {
        secretName: 'mg-tls',
        webhookConfiguration: 'modelgate',
        serviceName: 'mg',
        extraDnsNames: ['webhook.example.com'],
        extraIps: ['127.0.0.1'],
      },
    });
    expect(c.kubernetes?.tls?.certFile).toMatch(/modelgate-tls-\d+\/tls\.crt$/);
  });

  it('keeps the matchConditions of --webhook-config in step without --tls-self-manage too', () => {
    const c = serveConfig({ kubernetes: true, webhookConfig: 'mg-webhook' }, IN_CLUSTER);
    expect(c.kubernetes?.webhookConfiguration).toBe('mg-webhook');
    expect(c.kubernetes?.tls).toBeUndefined();
    expect(serveConfig({ kubernetes: true }, IN_CLUSTER).kubernetes?.webhookConfiguration).toBeUndefined();
  });

  it('file mode stays as it was', () => {
    const c = serveConfig({ policyFile: ['p.yaml'] }, IN_CLUSTER);
    expect(c.policySource).toBe('file');
    expect(c.kubernetes).toBeUndefined();
  });

  it.each([
    [{ kubernetes: true }, {}, '--kubeconfig'],
    [{ kubernetes: true, policyFile: ['p'] }, IN_CLUSTER, 'drop --policy-file'],
    [{ kubernetes: true, namespaceLabels: ['a=b=c'] }, IN_CLUSTER, 'drop --namespace-labels'],
    [{ policyFile: ['p'], kubeconfig: '/k' }, {}, '--kubeconfig needs --kubernetes'],
    [{ policyFile: ['p'], tlsSelfManage: true }, {}, '--tls-self-manage needs --kubernetes'],
    [{ kubernetes: true, tlsSelfManage: true }, IN_CLUSTER, 'needs --webhook-config'],
    [
      { kubernetes: true, webhookConfig: 'Bad_Name' },
      IN_CLUSTER,
      '--webhook-config must be a lower-case DNS name',
    ],
    [{ policyFile: ['p'], webhookConfig: 'x' }, {}, '--webhook-config needs --kubernetes'],
    [{ kubernetes: true, namespace: 'Bad_NS' }, IN_CLUSTER, '--namespace must be a lower-case DNS name'],
    [{ kubernetes: true, secretNamespace: ['x/y'] }, IN_CLUSTER, '--secret-namespace'],
  ])('refuses %j', (flags, env, message) => {
    expect(() => serveConfig(flags, env)).toThrow(ConfigError);
    expect(() => serveConfig(flags, env)).toThrow(message);
  });
});
