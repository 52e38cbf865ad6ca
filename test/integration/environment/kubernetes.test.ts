// Proves the Kubernetes side of the test environment is a real apiserver:
// objects are stored and watched, TokenRequest issues tokens, and the
// apiserver itself validates them through TokenReview.
import assert from 'node:assert/strict';
import { AuthenticationV1Api, Watch, type V1Secret } from '@kubernetes/client-node';
import { createNamespace, kubeClients, serviceAccountToken, type KubeClients } from '../support/kube.ts';
import { SERVICE_ACCOUNT_ISSUER } from '../../../tools/testenv/kube.ts';

describe('test environment: kube-apiserver', () => {
  let kube: KubeClients;
  let namespace: string;

  before(async () => {
    kube = kubeClients();
    namespace = await createNamespace(kube.core, 'env');
  });

  it('serves a real API with RBAC bootstrap roles', async () => {
    const role = await kube.rbac.readClusterRole({ name: 'system:auth-delegator' });
    assert.ok(role.rules?.some((r) => r.resources?.includes('tokenreviews')));
  });

  it('stores a Secret and a Deployment and delivers them through a watch', async () => {
    const seen: string[] = [];
    const watch = new Watch(kube.kc);
    let resolveSeen!: () => void;
    const bothSeen = new Promise<void>((r) => (resolveSeen = r));
    const onEvent = (kind: string) => (type: string, obj: { metadata?: { name?: string } }) => {
      seen.push(`${kind}:${type}:${obj.metadata?.name}`);
      if (seen.includes('secret:ADDED:db') && seen.includes('deployment:ADDED:app')) resolveSeen();
    };
    const secretWatch = await watch.watch(`/api/v1/namespaces/${namespace}/secrets`, {}, onEvent('secret'), () => {});
    const deployWatch = await watch.watch(`/apis/apps/v1/namespaces/${namespace}/deployments`, {}, onEvent('deployment'), () => {});
    try {
      await kube.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'db' }, stringData: { password: 'p' } } });
      await kube.apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: 'app' },
          spec: {
            selector: { matchLabels: { app: 'app' } },
            template: {
              metadata: { labels: { app: 'app' } },
              spec: { containers: [{ name: 'c', image: 'busybox', envFrom: [{ secretRef: { name: 'db' } }] }] },
            },
          },
        },
      });
      await Promise.race([bothSeen, new Promise((_, rej) => setTimeout(() => rej(new Error(`watch saw only ${seen.join(', ')}`)), 10_000))]);
    } finally {
      secretWatch.abort();
      deployWatch.abort();
    }
    const stored: V1Secret = await kube.core.readNamespacedSecret({ name: 'db', namespace });
    assert.equal(Buffer.from(stored.data!.password!, 'base64').toString(), 'p');
  });

  it('issues service-account tokens with TokenRequest and validates them with TokenReview', async () => {
    await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'robot' } } });
    const token = await serviceAccountToken(kube.core, namespace, 'robot', { seconds: 600 });
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.equal(claims.iss, SERVICE_ACCOUNT_ISSUER);
    assert.equal(claims.sub, `system:serviceaccount:${namespace}:robot`);

    const authn = kube.kc.makeApiClient(AuthenticationV1Api);
    const review = await authn.createTokenReview({ body: { spec: { token } } });
    assert.equal(review.status?.authenticated, true);
    assert.equal(review.status?.user?.username, `system:serviceaccount:${namespace}:robot`);

    const forged = `${token.slice(0, -4)}AAAA`;
    const rejected = await authn.createTokenReview({ body: { spec: { token: forged } } });
    assert.notEqual(rejected.status?.authenticated, true);
  });
});
