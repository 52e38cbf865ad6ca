// Entry point of the headless controller (bundled to dist/controller.mjs).
import process from 'node:process';
import { VERSION } from '../shared/version.ts';

if (process.argv.includes('--version')) {
  process.stdout.write(`vault-sync-operator ${VERSION}\n`);
  process.exit(0);
}
