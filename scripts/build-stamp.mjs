// `npm test` builds first, but in CI `npm ci` has just built (prepare): the same 10 s again.
// `write` (the build's last step) records a hash of everything the build reads and of the manifest
// it wrote; `check` exits 0 only when dist/ is from exactly those inputs, so npm test rebuilds
// after any change to them.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.dirname(import.meta.dirname);
const STAMP = path.join(ROOT, 'dist/.build-inputs');
const FILES = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts/bundle.mjs',
  'scripts/sort-manifest.mjs',
  'oclif.manifest.json',
];

function inputsHash() {
  const hash = createHash('sha256');
  const sources = readdirSync(path.join(ROOT, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .sort();
  for (const file of [...FILES, ...sources]) {
    hash.update(`${file}\0`);
    hash.update(existsSync(path.join(ROOT, file)) ? readFileSync(path.join(ROOT, file)) : '(absent)');
    hash.update('\0');
  }
  return hash.digest('hex');
}

const mode = process.argv[2];
if (mode === 'write') {
  writeFileSync(STAMP, `${inputsHash()}\n`);
} else if (mode === 'check') {
  const current =
    existsSync(STAMP) &&
    existsSync(path.join(ROOT, 'dist/bundle/main.cjs')) &&
    readFileSync(STAMP, 'utf8').trim() === inputsHash();
  if (current) console.log('dist/ is built from the current sources; not rebuilding');
  process.exit(current ? 0 : 1);
} else {
  console.error('usage: node scripts/build-stamp.mjs write|check');
  process.exit(2);
}
