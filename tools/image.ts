// Assembles the controller image from what tools/image gathered: the root
// filesystem from deploy/image/rootfs.sh (Debian packages unpacked, Node.js,
// the bundle, the entrypoint), written as a reproducible OCI image by
// tools/testenv/oci.ts. Prints the digest on stdout; sizes and paths on stderr;
// dist/image/image.json records them for the tests and the demo.
//
//   node tools/image.ts --node NODE_BINARY [--out DIR] -- DEB...
//   (use tools/image, which fetches the inputs)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { repoRoot } from './testenv/binaries.ts';
import { writeOciImage, type OciImage } from './testenv/oci.ts';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
export const IMAGE_NAME = `localhost/vault-sync-operator:${pkg.version}`;
export const defaultImageDir = join(repoRoot, 'dist', 'image');

/** What tools/image built, as recorded in <out>/image.json. */
export interface BuiltImage extends OciImage {
  debianPackages: string[];
  nodeVersion: string;
  /** The cached inputs, so a second build can be compared without fetching anything. */
  inputs: { node: string; debs: string[] };
}

export function readBuiltImage(out = defaultImageDir): BuiltImage {
  try {
    return JSON.parse(readFileSync(join(out, 'image.json'), 'utf8')) as BuiltImage;
  } catch {
    throw new Error(`no image in ${out}: build it with tools/image`);
  }
}

function packageId(deb: string): string {
  return execFileSync('dpkg-deb', ['--show', '--showformat=${Package}=${Version}', deb], { encoding: 'utf8' });
}

export async function buildImage(opts: { node: string; debs: string[]; out: string }): Promise<BuiltImage> {
  const work = mkdtempSync(join(resolve(opts.out, '..'), '.image-work-'));
  try {
    // Exactly these packages, whatever else the cache holds.
    const debDir = join(work, 'debs');
    mkdirSync(debDir);
    for (const deb of opts.debs) symlinkSync(resolve(deb), join(debDir, basename(deb)));
    const app = join(work, 'app');
    mkdirSync(app);
    // The bundle and its lazily loaded chunks (not the source maps).
    for (const file of readdirSync(join(repoRoot, 'dist')).filter((f) => /^controller.*\.mjs$/.test(f))) copyFileSync(join(repoRoot, 'dist', file), join(app, file));
    copyFileSync(join(repoRoot, 'deploy', 'image', 'entrypoint.sh'), join(app, 'entrypoint.sh'));
    copyFileSync(join(repoRoot, 'LICENSE'), join(app, 'LICENSE'));
    const rootfs = join(work, 'rootfs');
    execFileSync('sh', [join(repoRoot, 'deploy', 'image', 'rootfs.sh'), rootfs, debDir, opts.node, app], { stdio: ['ignore', 'inherit', 'inherit'] });

    const debianPackages = opts.debs.map(packageId).sort();
    const nodeVersion = execFileSync(opts.node, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
    const image = await writeOciImage({
      rootfs, name: IMAGE_NAME, out: opts.out, createdBy: 'tools/image (deploy/image/rootfs.sh)',
      config: {
        User: '65532:65532',
        Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production', 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'],
        Entrypoint: ['/app/entrypoint.sh'],
        WorkingDir: '/app',
        ExposedPorts: { '8080/tcp': {}, '8081/tcp': {}, '8082/tcp': {} },
        Labels: {
          'org.opencontainers.image.title': 'vault-sync-operator',
          'org.opencontainers.image.description': 'Pushes Kubernetes Secrets into HashiCorp Vault / OpenBao',
          'org.opencontainers.image.source': 'https://github.com/vault-sync-io/vault-sync-operator',
          'org.opencontainers.image.licenses': 'Apache-2.0',
          'org.opencontainers.image.version': pkg.version,
          'io.vault-sync.node-version': nodeVersion,
          'io.vault-sync.debian-packages': debianPackages.join(' '),
        },
      },
    });
    const built: BuiltImage = { ...image, debianPackages, nodeVersion, inputs: { node: resolve(opts.node), debs: opts.debs.map((d) => resolve(d)) } };
    writeFileSync(join(opts.out, 'image.json'), JSON.stringify(built, null, 2));
    return built;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

if (import.meta.main) {
  const args = process.argv.slice(2);
  const sep = args.indexOf('--');
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 && (sep < 0 || i < sep) ? args[i + 1] : undefined;
  };
  const node = flag('--node');
  const debs = sep >= 0 ? args.slice(sep + 1) : [];
  if (!node || debs.length === 0) {
    process.stderr.write('usage: node tools/image.ts --node NODE_BINARY [--out DIR] -- DEB...   (tools/image gathers these)\n');
    process.exit(2);
  }
  const out = resolve(flag('--out') ?? defaultImageDir);
  mkdirSync(resolve(out, '..'), { recursive: true });
  const started = Date.now();
  const image = await buildImage({ node, debs, out });
  process.stderr.write([
    `[image] ${image.name} built in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    `[image] layer ${mib(image.compressedBytes)} compressed, ${mib(image.uncompressedBytes)} unpacked; node ${image.nodeVersion}; ${image.debianPackages.join(' ')}`,
    `[image] OCI layout ${image.layoutDir}`,
    `[image] archive    ${image.archive}   (ctr -n k8s.io images import ${basename(image.archive)})`,
    '',
  ].join('\n'));
  process.stdout.write(`${image.digest}\n`);
}
