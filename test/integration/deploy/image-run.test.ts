// The image tools/image built (dist/image), for real:
//   - it is reproducible (a second build from the same inputs has the same
//     digest), runs as a numeric non-root user and carries no package
//     manager, npm or compiler; the Dockerfile describes the same image;
//   - it runs under runc with the chart's security context, taken from the
//     rendered chart (uid/gid 65532, read-only root filesystem, every
//     capability dropped, no privilege escalation, the memory limit), the
//     chart's arguments, the in-cluster environment and service-account
//     files, and a projected token with the chart's dedicated audience;
//   - it logs in to OpenBao through kubernetes auth with that token, syncs a
//     Deployment, answers /healthz and /readyz, and stops cleanly on SIGTERM
//     (exit 0, Lease released, its cgroup removed).
// The container shares the test sandbox's network namespace (like a
// hostNetwork pod) and reaches the apiserver through the kubernetes Service
// IP, forwarded as a kube-proxy would.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeHttp } from '../../../shared/kube/http.ts';
import { buildImage, readBuiltImage, type BuiltImage } from '../../../tools/image.ts';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { type Forwarder } from '../../../tools/testenv/forward.ts';
import { KUBERNETES_SERVICE_IP, serveKubernetesService } from '../../../tools/testenv/network.ts';
import { baoApi } from '../../../tools/testenv/openbao.ts';
import { freePorts } from '../../../tools/testenv/ports.ts';
import { runImage, type Container } from '../../../tools/testenv/runc.ts';
import { enableKubernetesAuthMount, kvPrefixPolicy, writeRole } from '../../../tools/testenv/vault-kube-auth.ts';
import { waitFor } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { adminKubeConfig, createNamespace, createWebApp, kubeClients, serviceAccountToken, uniqueName, type KubeClients } from '../support/kube.ts';
import { create, Discovery, helmTemplate, type KubeObject } from './render.ts';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const readBlob = (image: BuiltImage, digest: string) => JSON.parse(readFileSync(join(image.layoutDir, 'blobs', 'sha256', digest.replace(/^sha256:/, '')), 'utf8'));
/** The image config (user, env, entrypoint...) of the built image. */
const imageConfig = (image: BuiltImage) => readBlob(image, readBlob(image, image.digest).config.digest).config;

describe('the built image (tools/image) under runc with the chart\'s security context', function () {
  this.timeout(180_000);
  let image: BuiltImage;
  let kube: KubeClients;
  let admin: KubeHttp;
  let ns: string;
  let appNs: string;
  let container: Container;
  let probePort: number;
  let kubernetesService: Forwarder;
  let deployment: KubeObject;
  const work = mkdtempSync(join(tmpdir(), 'vso-runc-'));
  const release = uniqueName('img');
  const fullname = `${release}-vault-sync-operator`;
  const vaultGet = (path: string) => baoApi(testEnv().vaultAddr, testEnv().vaultToken, 'GET', path);

  before(async function () {
    image = readBuiltImage();
    kube = kubeClients();
    admin = new KubeHttp(adminKubeConfig());
    ns = await createNamespace(kube.core, 'vso-img');
    appNs = await createNamespace(kube.core, 'vso-img-app');
    const env = testEnv();
    const [metricsPort, probe, statusPort] = await freePorts(3);
    probePort = probe!;
    const authPath = `k8s-${release}`;
    const rendered = helmTemplate({
      release, namespace: ns,
      values: {
        config: { vaultAddr: env.vaultAddr, vaultAuthPath: authPath, vaultRole: release, namespaces: [appNs], logLevel: 'debug' },
        vault: { tokenAudience: 'vault' },
        ports: { metrics: metricsPort, health: probePort, status: statusPort },
      },
    });
    // The chart's ServiceAccount and RBAC for real: the controller runs with nothing more.
    const discovery = new Discovery(admin);
    for (const obj of rendered.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind))) await create(admin, discovery, obj, { dryRun: false });
    deployment = rendered.find((o) => o.kind === 'Deployment')!;

    // Vault: a kubernetes auth mount whose role requires the chart's audience.
    const mount = await enableKubernetesAuthMount({ http: admin, kubeServer: env.kubeServer, kubeCaPem: env.kubeCaPem, vaultAddr: env.vaultAddr, vaultToken: env.vaultToken, namespace: ns, mount: authPath });
    await writeRole({ vaultAddr: env.vaultAddr, vaultToken: env.vaultToken, mount, role: release, namespace: ns, serviceAccount: fullname, policyRules: kvPrefixPolicy(appNs), audience: 'vault' });

    // What kubelet puts in the pod: the API credentials and the projected Vault token, group-owned by fsGroup.
    const pod = deployment.spec.template.spec;
    const fsGroup: number = pod.securityContext.fsGroup;
    const saDir = join(work, 'serviceaccount');
    const vaultDir = join(work, 'vault-token');
    mkdirSync(saDir);
    mkdirSync(vaultDir);
    const projected = pod.volumes.find((v: any) => v.name === 'vault-token').projected.sources[0].serviceAccountToken;
    const files: [string, string][] = [
      [join(saDir, 'token'), await serviceAccountToken(kube.core, ns, fullname, { seconds: 3600 })],
      [join(saDir, 'ca.crt'), env.kubeCaPem],
      [join(saDir, 'namespace'), ns],
      [join(vaultDir, projected.path), await serviceAccountToken(kube.core, ns, fullname, { audiences: [projected.audience], seconds: projected.expirationSeconds })],
    ];
    for (const [file, content] of files) {
      writeFileSync(file, content, { mode: 0o440 });
      chownSync(file, 0, fsGroup);
    }
    kubernetesService = await serveKubernetesService(Number(new URL(env.kubeServer).port));

    const c = pod.containers[0];
    const sc = c.securityContext;
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.name, m.mountPath]));
    const memory = String(c.resources.limits.memory);
    assert.match(memory, /^\d+Mi$/);
    container = await runImage({
      layoutDir: image.layoutDir, bundleDir: join(work, 'bundle'), id: release,
      pod: {
        uid: pod.securityContext.runAsUser, gid: pod.securityContext.runAsGroup, supplementalGroups: [fsGroup],
        readOnlyRootFilesystem: sc.readOnlyRootFilesystem === true,
        noNewPrivileges: sc.allowPrivilegeEscalation === false,
        capabilities: sc.capabilities.drop.includes('ALL') ? [] : ['CAP_NET_BIND_SERVICE'],
        memoryLimitBytes: Number.parseInt(memory, 10) * 1024 * 1024,
        args: c.args,
        env: {
          KUBERNETES_SERVICE_HOST: KUBERNETES_SERVICE_IP, KUBERNETES_SERVICE_PORT: '443',
          POD_NAMESPACE: ns, POD_NAME: `${fullname}-runc`,
        },
        // As under hostNetwork: the hostname is not the pod's name.
        hostname: 'node-hostname',
        binds: { '/var/run/secrets/kubernetes.io/serviceaccount': saDir, [mounts['vault-token']]: vaultDir },
        tmpfs: { [mounts.tmp]: 16 * 1024 * 1024 },
      },
    });
  });

  after(async () => {
    await container?.remove();
    await kubernetesService?.close();
  });

  it('is reproducible, runs as a numeric non-root user, and has no package manager, npm or compiler', async () => {
    const bundled = join(work, 'bundle', 'rootfs');
    await waitFor(() => existsSync(join(bundled, 'app', 'controller.mjs')), { what: 'the unpacked image' });
    assert.equal(sha256(join(bundled, 'app', 'controller.mjs')), sha256(join(repoRoot, 'dist', 'controller.mjs')), 'the image carries the current bundle (else run tools/image)');
    assert.equal(imageConfig(image).User, '65532:65532');
    for (const path of ['usr/bin/apt', 'usr/bin/dpkg', 'usr/local/bin/npm', 'usr/local/lib/node_modules', 'usr/bin/gcc', 'usr/bin/cc', 'usr/bin/perl', 'usr/share']) {
      assert.ok(!existsSync(join(bundled, path)), `${path} is not in the image`);
    }
    assert.ok(image.compressedBytes < 60 * 1024 * 1024, `layer of ${image.compressedBytes} bytes`);
    const again = await buildImage({ node: image.inputs.node, debs: image.inputs.debs, out: join(work, 'second-build') });
    assert.equal(again.digest, image.digest, 'a second build from the same inputs has the same digest');
  });

  it('the Dockerfile builds the same image: same recipe, inputs and config, base pinned by digest', () => {
    const dockerfile = readFileSync(join(repoRoot, 'deploy', 'image', 'Dockerfile'), 'utf8');
    const versions = readFileSync(join(repoRoot, 'tools', 'versions.sh'), 'utf8');
    const arg = (name: string, text: string) => new RegExp(`^(?:ARG )?${name}=("?)([^"\\n]*)\\1$`, 'm').exec(text)?.[2];
    assert.equal(arg('NODE_VERSION', dockerfile), arg('NODE_VERSION', versions));
    assert.equal(arg('NODE_VERSION', dockerfile), image.nodeVersion);
    assert.equal(arg('IMAGE_DEBIAN_PACKAGES', dockerfile), /IMAGE_DEBIAN_PACKAGES=\(([^)]*)\)/.exec(versions)?.[1]);
    assert.match(arg('DEBIAN_IMAGE', dockerfile) ?? '', /^debian:[\w.-]+@sha256:[0-9a-f]{64}$/);
    assert.deepEqual([...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]), ['${DEBIAN_IMAGE}', '${DEBIAN_IMAGE}', 'scratch']);
    assert.match(dockerfile, /^RUN sh \/inputs\/rootfs\.sh /m);
    const config = imageConfig(image);
    assert.equal(/^USER (\S+)$/m.exec(dockerfile)?.[1], config.User);
    assert.equal([...dockerfile.matchAll(/^WORKDIR (\S+)$/gm)].at(-1)?.[1], config.WorkingDir, 'the runtime stage\'s WORKDIR');
    assert.deepEqual(JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)![1]!), config.Entrypoint);
    assert.deepEqual([...dockerfile.matchAll(/^ENV (.+)$/gm)].at(-1)![1]!.split(' '), config.Env, 'the runtime stage\'s ENV');
  });

  it('runs as 65532 with no capabilities, no new privileges, a read-only root and the heap sized from its memory limit', async () => {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${probePort}/healthz`)).status === 200, { what: '/healthz', timeoutMs: 60_000 });
    const pid = await container.pid();
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    assert.match(status, /^Gid:\s+65532\s+65532\s+65532\s+65532$/m);
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^CapPrm:\s+0+$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.equal(argv[0], 'node', 'the entrypoint exec\'d node');
    assert.ok(argv.includes('--max-old-space-size=128'), `heap from the 256Mi limit: ${argv.join(' ')}`);
    const write = await container.exec(['/bin/sh', '-c', 'echo x > /app/written']);
    assert.notEqual(write.code, 0);
    assert.match(write.output, /Read-only file system/);
    const tmp = await container.exec(['/bin/sh', '-c', 'echo x > /tmp/written']);
    assert.equal(tmp.code, 0, `the /tmp emptyDir is writable: ${tmp.output}`);
  });

  it('logs in to OpenBao with the projected token (audience "vault"), syncs a Deployment, and is ready', async () => {
    await createWebApp(kube, appNs, { url: 'postgres://db', password: 'pw-image' });
    const path = `secret/data/${appNs}/web/db`;
    await waitFor(async () => (await vaultGet(path)).status === 200, { what: `${path} in OpenBao`, timeoutMs: 60_000 });
    assert.deepEqual((await vaultGet(path)).json.data.data, { url: 'postgres://db', password: 'pw-image' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${probePort}/readyz`)).status === 200, { what: '/readyz' });
    const lease: any = await admin.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/vault-sync-operator.io`);
    assert.match(lease.spec.holderIdentity, new RegExp(`^${fullname}-runc_`), 'the leader-election identity carries POD_NAME');
    assert.doesNotMatch(container.logs(), /pw-image/, 'no value in the logs');
  });

  it('stops cleanly on SIGTERM: exit 0, the Lease released, its cgroup gone', async () => {
    const cgroup = `/sys/fs/cgroup/memory${container.cgroupPath}`;
    assert.ok(existsSync(cgroup), `${cgroup} while running`);
    await container.kill('TERM');
    const code = await Promise.race([container.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
    assert.equal(code, 0, container.logs().split('\n').slice(-20).join('\n'));
    const lease: any = await admin.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/vault-sync-operator.io`);
    assert.equal(lease.spec.holderIdentity ?? '', '', 'the Lease was handed over');
    await container.remove();
    assert.ok(!existsSync(cgroup), `${cgroup} removed`);
  });
});
