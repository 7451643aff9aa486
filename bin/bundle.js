// Loads dist/afty.cjs (scripts/bundle.mjs: every command with its dependencies) with a V8 code
// cache, dist/afty.cjs.cache: compiling the bundle's code again on every run cost about as much as
// running it. The cache holds the code compiled by the runs that wrote it, so it is written again
// after the first run of each command (the header lists the commands it covers), and whenever V8
// rejects it (it checks the source length, its own version and flags); then the bundle is
// compiled from source. Writing is best-effort: a read-only install keeps the cache it has.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

const file = path.join(path.dirname(import.meta.dirname), 'dist', 'afty.cjs');
const cacheFile = `${file}.cache`;
const loaded = new Set(); // commands this run loaded

/** The cache file: a 4-byte length, a JSON list of the commands it covers, V8's data. */
function readCache() {
  try {
    const buffer = readFileSync(cacheFile);
    const length = buffer.readUInt32LE(0);
    return {
      covers: new Set(JSON.parse(buffer.subarray(4, 4 + length).toString('utf8'))),
      data: buffer.subarray(4 + length),
    };
  } catch {
    return { covers: new Set(), data: undefined };
  }
}

function writeCache(script, covers) {
  const temporary = `${cacheFile}.${process.pid}`;
  try {
    const list = Buffer.from(JSON.stringify([...covers].sort()));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(list.length);
    writeFileSync(temporary, Buffer.concat([length, list, script.createCachedData()]));
    renameSync(temporary, cacheFile); // atomic: a concurrent run reads the old cache or the new one
  } catch {
    rmSync(temporary, { force: true });
  }
}

function load() {
  const cache = readCache();
  const cachedData = cache.data;
  const source = readFileSync(file, 'latin1'); // ASCII: scripts/bundle.mjs makes sure
  const script = new vm.Script(source, { filename: file, cachedData });
  // The bundle's import() calls (oclif loading plugins and hooks, user config files, migrations):
  // Node's own loader, relative to the bundle as they would be from any file.
  const importer = (specifier, options) =>
    import(specifier.startsWith('.') ? new URL(specifier, pathToFileURL(file)).href : specifier, options);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file), importer);
  process.once('exit', () => {
    const rejected = !cachedData || script.cachedDataRejected;
    if (rejected) cache.covers.clear();
    // A process that loads several commands (oclif manifest) ran none of them.
    const covers = new Set([...cache.covers, ...(loaded.size === 1 ? loaded : [])]);
    if (rejected || covers.size > cache.covers.size) writeCache(script, covers);
  });
  return module.exports;
}

const bundle = load();

/** The oclif entry point, from the same copy of @oclif/core the commands were bundled with. */
export const { execute } = bundle;

/** The command class with this id (its file path under src/commands, without extension). */
export function command(id) {
  loaded.add(id);
  return bundle.commands[id]();
}
