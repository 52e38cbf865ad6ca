// Writes an OCI image (image-spec v1.1 layout, one layer) from a root
// filesystem folder, with no container engine, reproducibly: the same folder
// and config give the same bytes and so the same digest.
//
// What makes it reproducible: the layer is a POSIX tar made by GNU tar with
// entries sorted by name, every mtime set to the epoch, owners 0:0 by number,
// no atime/ctime; gzip has no name or time in its header (zlib at a fixed
// level); JSON is written with a fixed key order; the image's `created` is the
// epoch. Nothing depends on the clock, the user or the host name.
//
// Output: an OCI layout folder (oci-layout, index.json, blobs/sha256/...) and
// the same as one tar archive, which `ctr images import` and skopeo read.
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlib } from 'node:zlib';

export const EPOCH = '1970-01-01T00:00:00Z';

const TAR_FLAGS = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=posix',
  '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime'];

/** The parts of an OCI image config that vary per image (see image-spec config.md). */
export interface RuntimeConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
}

export interface OciImage {
  /** sha256:... of the manifest: the image's digest. */
  digest: string;
  /** Image reference recorded in the layout (io.containerd.image.name). */
  name: string;
  layoutDir: string;
  archive: string;
  /** Bytes of the compressed layer (what a registry stores and a node pulls). */
  compressedBytes: number;
  /** Bytes of the uncompressed layer tar (about what the node unpacks). */
  uncompressedBytes: number;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Hashes and counts what flows through. */
function meter(): Transform & { hex(): string; bytes: number } {
  const hash = createHash('sha256');
  const t = new Transform({
    transform(chunk, _enc, done) {
      hash.update(chunk);
      t.bytes += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { hex(): string; bytes: number };
  t.bytes = 0;
  t.hex = () => hash.digest('hex');
  return t;
}

/** A deterministic tar of the folder's contents on stdout of GNU tar. */
function tarStream(dir: string) {
  const child = spawn('tar', [...TAR_FLAGS, '-C', dir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar -C ${dir}: exit ${code}: ${stderr}`)))));
  return { stdout: child.stdout, done };
}

function writeBlob(blobs: string, content: string): { digest: string; size: number } {
  const hex = sha256(content);
  writeFileSync(join(blobs, hex), content);
  return { digest: `sha256:${hex}`, size: Buffer.byteLength(content) };
}

export async function writeOciImage(opts: { rootfs: string; name: string; config: RuntimeConfig; out: string; createdBy: string }): Promise<OciImage> {
  const layoutDir = join(opts.out, 'layout');
  rmSync(opts.out, { recursive: true, force: true });
  const blobs = join(layoutDir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });

  // The layer: tar -> (diff_id hash) -> gzip -> (blob hash) -> file.
  const tmp = join(blobs, 'layer.tmp');
  const tar = tarStream(opts.rootfs);
  const uncompressed = meter();
  const compressed = meter();
  await Promise.all([
    pipeline(tar.stdout, uncompressed, createGzip({ level: 9, memLevel: 9, strategy: zlib.Z_DEFAULT_STRATEGY }), compressed, createWriteStream(tmp)),
    tar.done,
  ]);
  const diffId = `sha256:${uncompressed.hex()}`;
  const layerHex = compressed.hex();
  renameSync(tmp, join(blobs, layerHex));

  const config = writeBlob(blobs, JSON.stringify({
    created: EPOCH,
    architecture: 'amd64',
    os: 'linux',
    config: opts.config,
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: EPOCH, created_by: opts.createdBy }],
  }));
  const manifest = writeBlob(blobs, JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layerHex}`, size: compressed.bytes }],
  }));
  const tag = opts.name.slice(opts.name.lastIndexOf(':') + 1);
  writeFileSync(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layoutDir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size,
      platform: { architecture: 'amd64', os: 'linux' },
      annotations: { 'io.containerd.image.name': opts.name, 'org.opencontainers.image.ref.name': tag },
    }],
  }));
  const archive = join(opts.out, 'image.oci.tar');
  execFileSync('tar', [...TAR_FLAGS, '-C', layoutDir, '-cf', archive, '.']);
  return { digest: manifest.digest, name: opts.name, layoutDir, archive, compressedBytes: compressed.bytes, uncompressedBytes: uncompressed.bytes };
}

/** An image config as the image-spec defines it (the part runtimes read). */
export interface ImageConfig {
  config: RuntimeConfig;
  rootfs: { diff_ids: string[] };
}

/**
 * Unpacks the layout's only image into `rootfs` (layers in order, as root so
 * modes and owners stay) and returns its config. What a runtime's unpacker
 * does, for the tests that run the image under runc.
 */
export function unpackOciImage(layoutDir: string, rootfs: string): ImageConfig {
  const blob = (digest: string) => join(layoutDir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  mkdirSync(rootfs, { recursive: true });
  for (const layer of manifest.layers as { digest: string }[]) {
    execFileSync('tar', ['-xzf', blob(layer.digest), '-C', rootfs, '--numeric-owner', '--same-permissions']);
  }
  return JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as ImageConfig;
}
