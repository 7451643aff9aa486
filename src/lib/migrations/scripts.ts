import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError, OperationError } from '../errors.js';

/** Migration and seed files: JavaScript (CommonJS or ESM) and TypeScript, never declaration files. */
const SCRIPT = /^([A-Za-z0-9][\w.-]*?)\.(js|mjs|cjs|ts)$/;

export interface ScriptFile {
  /** File name without extension: what --class names (migrations are recorded with it, see source.ts). */
  name: string;
  file: string;
}

/**
 * The scripts in a directory, sorted by name. One file per name without extension, so a `.ts`
 * file in development and its compiled `.js` in production are the same migration or seeder. A
 * directory that does
 * not exist has none, unless `requiredBy` (the config key that names it) says it must exist: then
 * it is a typo that would make every tenant look unmigrated, and exit 2.
 */
export function listScripts(directory: string, what: string, requiredBy?: string): ScriptFile[] {
  if (!existsSync(directory)) {
    if (!requiredBy) return [];
    throw new InputError(`${requiredBy} is ${directory}, which does not exist`, {
      hint: `create the folder, or correct ${requiredBy} in the config`,
    });
  }
  if (!statSync(directory).isDirectory()) {
    throw new InputError(
      `${requiredBy ?? `the ${what} folder`} is ${directory}, which is a file, not a folder`,
      {
        hint: `point ${requiredBy ?? 'it'} at the folder of ${what} files`,
      },
    );
  }
  const byName = new Map<string, ScriptFile>();
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith('.d.ts')) continue;
    const match = SCRIPT.exec(entry.name);
    if (!match) continue;
    const name = match[1]!;
    const existing = byName.get(name);
    if (existing) {
      throw new InputError(
        `${what} ${name} exists twice (${path.basename(existing.file)} and ${entry.name}) in ${directory}`,
        { hint: 'keep one file per name' },
      );
    }
    byName.set(name, { name, file: path.join(directory, entry.name) });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Each module is imported once per process, however many tenants run it. */
const loaded = new Map<string, Promise<Record<string, unknown>>>();

/** Imports a script (ESM or CommonJS) once and returns its module namespace. */
export function loadScript(file: string): Promise<Record<string, unknown>> {
  let module = loaded.get(file);
  if (!module) {
    module = (import(pathToFileURL(file).href) as Promise<Record<string, unknown>>).catch(
      (error: unknown) => {
        loaded.delete(file);
        const typescript =
          file.endsWith('.ts') && (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION';
        throw new OperationError(
          typescript
            ? `cannot load ${path.basename(file)}: this Node has no TypeScript loader`
            : `cannot load ${path.basename(file)}: ${(error as Error).message ?? String(error)}`,
          {
            hint: typescript
              ? 'compile it to .js, or run with NODE_OPTIONS=--import=tsx'
              : 'fix the file and run again',
            cause: error,
          },
        );
      },
    );
    loaded.set(file, module);
  }
  return module;
}

/** Loads a script and checks it exports the named functions. */
export async function loadFunctions<K extends string>(
  script: ScriptFile,
  what: string,
  required: K[],
): Promise<Record<K, (...args: unknown[]) => unknown> & Record<string, unknown>> {
  const namespace = await loadScript(script.file);
  // CommonJS `module.exports = {…}` arrives as `default` (Node's named-export guess is unreliable).
  const fallback = namespace.default;
  const exports =
    typeof namespace[required[0]!] !== 'function' && fallback && typeof fallback === 'object'
      ? (fallback as Record<string, unknown>)
      : namespace;
  for (const key of required) {
    if (typeof exports[key] !== 'function') {
      throw new OperationError(`${what} ${script.name} does not export a ${key}() function`, {
        hint: `add export async function ${key}(knex) { … } to ${path.basename(script.file)}`,
      });
    }
  }
  return exports as Record<K, (...args: unknown[]) => unknown> & Record<string, unknown>;
}
