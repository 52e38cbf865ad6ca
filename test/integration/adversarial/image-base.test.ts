// Finding (low): the Dockerfile's base image was a moving tag (node:24-slim),
// so a rebuild could pull whatever the registry served that day. Every stage
// must start FROM scratch or from an image pinned by digest, with ARG
// defaults resolved the way the builder resolves them. (tools/image builds
// the shipped image without a Dockerfile, from pinned registry packages;
// deploy/image-run.test.ts checks that the Dockerfile describes the same.)
//
// VSO_DOCKERFILE points the check at another file (docs/security.md records
// it against the pre-fix Dockerfile).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../tools/testenv/binaries.ts';

/** The image each FROM names, with ${ARG} replaced by the ARG's default. */
export function baseImages(dockerfile: string): string[] {
  const defaults = new Map<string, string>();
  const images: string[] = [];
  for (const line of dockerfile.split('\n')) {
    const arg = /^ARG (\w+)=("?)([^"\n]*)\2\s*$/.exec(line);
    if (arg) defaults.set(arg[1]!, arg[3]!);
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)/.exec(line);
    if (from) images.push(from[1]!.replace(/\$\{?(\w+)\}?/g, (_, name: string) => defaults.get(name) ?? `<unset ${name}>`));
  }
  return images;
}

describe('adversarial: the image base cannot move under a rebuild', () => {
  it('every Dockerfile stage starts FROM scratch, an earlier stage, or an image pinned by sha256 digest', () => {
    const file = process.env.VSO_DOCKERFILE ?? join(repoRoot, 'deploy', 'image', 'Dockerfile');
    const text = readFileSync(file, 'utf8');
    const stages = new Set([...text.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!.toLowerCase()));
    const images = baseImages(text);
    assert.ok(images.length > 0, `${file} has no FROM`);
    for (const image of images) {
      if (image === 'scratch' || stages.has(image.toLowerCase())) continue;
      assert.match(image, /@sha256:[0-9a-f]{64}$/, `${file}: FROM ${image} is a moving tag; pin it by digest (image@sha256:...)`);
    }
  });
});
