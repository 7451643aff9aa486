import type { Knex } from 'knex';
import path from 'node:path';
import { checkpoint } from '../work-scope.js';
import { InputError, OperationError, driverMessage } from '../errors.js';
import { describeValue } from '../validation/index.js';
import { withTenantDb, type MigrationTarget, type StepTiming } from './migrator.js';
import { listScripts, loadFunctions, type ScriptFile } from './scripts.js';

/** The seeder that runs when none is named (Laravel's DatabaseSeeder, or knex-style `default`). */
export const DEFAULT_SEEDERS = ['DatabaseSeeder', 'default'];

/** Seeders of a directory, the default one first, then by name. */
export function listSeeders(directory: string, requiredBy?: string): ScriptFile[] {
  const seeders = listScripts(directory, 'seeder', requiredBy);
  const rank = (seeder: ScriptFile) => {
    const index = DEFAULT_SEEDERS.indexOf(seeder.name);
    return index < 0 ? DEFAULT_SEEDERS.length : index;
  };
  return [...seeders].sort((a, b) => rank(a) - rank(b));
}

export function defaultSeeder(seeders: ScriptFile[]): ScriptFile | undefined {
  return seeders.find((seeder) => DEFAULT_SEEDERS.includes(seeder.name));
}

/**
 * The seeders named by --class, in the order given; an unknown name is exit 2 listing the
 * available ones. Accepts names with or without extension.
 */
export function pickSeeders(seeders: ScriptFile[], classes: string[], directory: string): ScriptFile[] {
  if (seeders.length === 0) {
    throw new InputError(`there are no seeders in ${directory}`, {
      hint: 'add seed files there, or set seeds.directory in the config',
    });
  }
  const byName = new Map(seeders.map((seeder) => [seeder.name, seeder]));
  const picked: ScriptFile[] = [];
  for (const requested of classes) {
    const name = requested.trim().replace(/\.(js|mjs|cjs|ts)$/, '');
    const extension = requested.trim().slice(name.length);
    const found = byName.get(name);
    // A name given with an extension means that file: `X.ts` must not run `X.js`.
    const seeder = found && (!extension || path.extname(found.file) === extension) ? found : undefined;
    if (!seeder) {
      throw new InputError(`unknown seeder ${describeValue(requested)}`, {
        hint: found
          ? `${name} is ${path.basename(found.file)}: pass --class ${name}`
          : `available: ${seeders.map((entry) => entry.name).join(', ')}`,
      });
    }
    if (!picked.includes(seeder)) picked.push(seeder);
  }
  return picked;
}

export interface SeederRun extends StepTiming {
  /** Heap growth while the seeder ran, in bytes (0 when the heap shrank). */
  memoryBytes: number;
}

/**
 * Runs seeders one by one, in order, on the tenant database. A failing seeder stops the rest;
 * what earlier seeders wrote stays.
 */
export async function seedTenant(
  target: MigrationTarget,
  seeders: ScriptFile[],
  onSeeded?: (run: SeederRun) => void,
  onStarting?: (name: string) => void,
): Promise<SeederRun[]> {
  const modules = await Promise.all(seeders.map((seeder) => loadFunctions(seeder, 'seeder', ['seed'])));
  return withTenantDb(target, async (db: Knex) => {
    const runs: SeederRun[] = [];
    for (const [index, seeder] of seeders.entries()) {
      checkpoint(`seeder ${seeder.name}`);
      onStarting?.(seeder.name);
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      try {
        await modules[index]!.seed(db);
      } catch (error) {
        const done = runs.length ? `; ${runs.map((run) => run.name).join(', ')} already ran` : '';
        throw new OperationError(`seeder ${seeder.name} failed: ${driverMessage(error)}${done}`, {
          tenant: target.tenant,
          hint: `fix ${seeder.name}, then run afty db seed -t ${target.tenant} --class ${seeder.name}`,
          cause: error,
        });
      }
      const run = {
        name: seeder.name,
        ms: Math.round(performance.now() - started),
        memoryBytes: Math.max(0, process.memoryUsage().heapUsed - heapBefore),
      };
      runs.push(run);
      onSeeded?.(run);
    }
    return runs;
  });
}
