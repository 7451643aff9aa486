// Loads dist/bundle/main.cjs (scripts/bundle.mjs: the commands and src/lib) and, when its code
// first needs one, the file of a package it imports (dist/bundle/<package>.cjs), each with a V8
// code cache beside it (<file>.cache): compiling them again on every run cost about as much as
// running them. A cache holds the code compiled by the runs that wrote it, so it is written again
// after the first run of each command that loads its file (its header lists those commands), and
// whenever V8 rejects it (V8 checks the source length, its own version and flags); then the file
// is compiled from source, unless a concurrent run replaced it meanwhile. Writing is best-effort:
// a read-only install keeps the caches it has.
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

const directory = path.join(path.dirname(import.meta.dirname), 'dist', 'bundle');
const scripts = new Map(); // name → { module, script, cache }
const commands = new Set(); // commands this run loaded

/** Which version of a file is on disk (undefined: none), to tell whether another run replaced it. */
function stampOf(file) {
  try {
    const { mtimeMs, size, ino } = statSync(file);
    return `${ino}:${mtimeMs}:${size}`;
  } catch {
    return undefined;
  }
}

/** A cache file: a 4-byte length, a JSON list of the commands it covers, V8's data. */
function readCache(file) {
  const stamp = stampOf(file);
  try {
    const buffer = readFileSync(file);
    const length = buffer.readUInt32LE(0);
    return {
      stamp,
      covers: new Set(JSON.parse(buffer.subarray(4, 4 + length).toString('utf8'))),
      data: buffer.subarray(4 + length),
    };
  } catch {
    return { stamp, covers: new Set(), data: undefined };
  }
}

function writeCache(file, script, covers) {
  const temporary = `${file}.${process.pid}`;
  try {
    const list = Buffer.from(JSON.stringify([...covers].sort()));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(list.length);
    writeFileSync(temporary, Buffer.concat([length, list, script.createCachedData()]));
    renameSync(temporary, file); // atomic: a concurrent run reads the old cache or the new one
  } catch {
    rmSync(temporary, { force: true });
  }
}

// The files' import() calls (oclif loading plugins and hooks, user config files, migrations):
// Node's own loader, relative to the file as they would be from any file.
function importer(file) {
  return (specifier, options) =>
    import(specifier.startsWith('.') ? new URL(specifier, pathToFileURL(file)).href : specifier, options);
}

/** The module.exports of dist/bundle/<name>.cjs, run once (a file being run returns what it has so far). */
function load(name) {
  const loaded = scripts.get(name);
  if (loaded) return loaded.module.exports;
  const file = path.join(directory, `${name}.cjs`);
  const cache = readCache(`${file}.cache`);
  const source = readFileSync(file, 'latin1'); // ASCII: scripts/bundle.mjs makes sure
  const script = new vm.Script(source, { filename: file, cachedData: cache.data });
  const module = { exports: {} };
  scripts.set(name, { module, script, cache });
  script.runInThisContext()(
    module.exports,
    createRequire(file),
    module,
    file,
    directory,
    importer(file),
    load,
  );
  return module.exports;
}

process.once('exit', () => {
  // A process that loads several commands (oclif manifest) ran none of them.
  const ran = commands.size === 1 ? commands : [];
  for (const [name, { script, cache }] of scripts) {
    const file = path.join(directory, `${name}.cjs.cache`);
    const rejected = !cache.data || script.cachedDataRejected;
    const covers = new Set([...(rejected ? [] : cache.covers), ...ran]);
    // Another run (a concurrent command) replaced the cache since this one read it: writing over
    // it would drop the command that run added. This run's command is added when it next runs.
    if ((rejected || covers.size > cache.covers.size) && stampOf(file) === cache.stamp)
      writeCache(file, script, covers);
  }
});

const main = load('main');

/** The oclif entry point, from the same copy of @oclif/core the commands were bundled with. */
export const { execute } = main;

/** The command class with this id (its file path under src/commands, without extension). */
export function command(id) {
  commands.add(id);
  return main.commands[id]();
}
