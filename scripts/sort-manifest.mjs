// oclif writes manifest commands in file-discovery order, which differs between builds; sorting
// makes oclif.manifest.json reproducible, so CI can tell a stale committed copy from a fresh one.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../oclif.manifest.json', import.meta.url);
const manifest = JSON.parse(readFileSync(file, 'utf8'));
manifest.commands = Object.fromEntries(
  Object.entries(manifest.commands).sort(([a], [b]) => a.localeCompare(b)),
);
writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
