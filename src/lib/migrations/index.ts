import os from 'node:os';
import type { AftyContext } from '../context.js';
import { InputError } from '../errors.js';
import type { Registry, TenantRecord } from '../registry/index.js';
import { createTenant, provisioningRemedy, tenantLocation, type Step } from '../tenants/index.js';
import { MigrationLockedError } from './bookkeeping.js';
import {
  appliedBefore,
  migrateTenant,
  type LockHolderHooks,
  type MigrateOptions,
  type MigrateResult,
  type MigrationTarget,
} from './migrator.js';
import type { ScriptFile } from './scripts.js';
import { defaultSeeder, listSeeders, pickSeeders, seedTenant, type SeederRun } from './seeder.js';
import { provisionSchema } from './snapshot.js';
import { TenantMigrationSource } from './source.js';

export { MigrationLockedError } from './bookkeeping.js';
export {
  MigrationFailedError,
  MigrationsInterruptedError,
  InitialBatchRefusedError,
  NewerMigrationsError,
  appliedBefore,
  dropAllRelations,
  migrateTenant,
  rollbackTenant,
  tenantStatus,
  unlockTenant,
  type MigrateResult,
  type MigrationStatusEntry,
  type StepTiming,
  type TenantMigrationStatus,
} from './migrator.js';
export {
  DEFAULT_SEEDERS,
  defaultSeeder,
  listSeeders,
  pickSeeders,
  seedTenant,
  type SeederRun,
} from './seeder.js';
export {
  assertFullyMigrated,
  checkSnapshot,
  dumpSnapshot,
  readSnapshot,
  withScratchDatabase,
  writeSnapshot,
  type SnapshotCheck,
} from './snapshot.js';
export { TenantMigrationSource } from './source.js';
export { describeSchema, diffSchemas, type SchemaShape } from './schema.js';

/** The configured migrations, listed once for this run (a bad directory is exit 2 up front). */
export function sourceOf(ctx: AftyContext): TenantMigrationSource {
  const { directory, required } = ctx.config.migrations;
  const source = new TenantMigrationSource(directory, required ? 'migrations.directory' : undefined);
  source.list();
  return source;
}

/** Tenant-level work connects with the tenant's own credentials when it has a user. */
export function targetOf(ctx: AftyContext, tenant: TenantRecord): MigrationTarget {
  return { tenant: tenant.id, location: tenantLocation(ctx, tenant) };
}

/** Records in the registry that the tenant's schema changed. */
export async function markMigrated(ctx: AftyContext, tenantId: string): Promise<void> {
  await (await ctx.registry()).updateTenant(tenantId, { lastMigratedAt: new Date() });
}

/**
 * Records in the registry which afty process holds the tenant's migration lock, while it does.
 * The writes run beside the migrations (a commit each, on the registry's server), in order.
 */
export function lockHolderOf(ctx: AftyContext, tenant: TenantRecord): LockHolderHooks {
  let last: Promise<unknown> = Promise.resolve();
  const queue = (write: (registry: Registry) => Promise<void>) => {
    const next = last.then(async () => write(await ctx.registry()));
    last = next.catch(() => undefined);
    ctx.inBackground(() => next);
  };
  return {
    acquired: async () =>
      queue((registry) => registry.recordLockHolder(tenant.id, { host: os.hostname(), pid: process.pid })),
    released: async () => queue((registry) => registry.clearLockHolder(tenant.id)),
  };
}

/**
 * What is known of who holds a tenant's lock: the afty process recorded taking it (with its age)
 * and whether that process is gone — then the lock was left by a killed run or a crash.
 */
export async function lockDiagnosis(
  ctx: AftyContext,
  tenant: string,
  now = Date.now(),
): Promise<{ text: string; stale: boolean }> {
  const holder = await (await ctx.registry()).lockHolder(tenant).catch(() => undefined);
  if (!holder) {
    return {
      text: 'by a run afty did not record (plain knex, or an afty run killed as it took the lock)',
      stale: false,
    };
  }
  const age = Math.max(0, Math.round((now - Date.parse(holder.acquiredAt)) / 1000));
  const since = `since ${holder.acquiredAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (${formatAge(age)})`;
  if (holder.host !== os.hostname()) {
    return { text: `${since} by afty pid ${holder.pid} on host ${holder.host}`, stale: false };
  }
  const alive = (() => {
    try {
      process.kill(holder.pid, 0);
      return holder.pid !== process.pid;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  })();
  return alive
    ? { text: `${since} by afty pid ${holder.pid}, which is still running`, stale: false }
    : { text: `${since} by afty pid ${holder.pid}, which is no longer running`, stale: true };
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** A held lock, explained: who holds it, since when, and whether it looks stale. */
export async function explainLocked<T>(ctx: AftyContext, tenant: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof MigrationLockedError)
      throw new MigrationLockedError(tenant, await lockDiagnosis(ctx, tenant));
    throw error;
  }
}

/**
 * Migrates a registered tenant and stamps last_migrated_at whenever something was applied,
 * including the migrations that ran before one failed.
 */
export async function migrateRegistered(
  ctx: AftyContext,
  tenant: TenantRecord,
  source: TenantMigrationSource,
  options: MigrateOptions,
): Promise<MigrateResult> {
  try {
    const result = await explainLocked(ctx, tenant.id, () =>
      migrateTenant(targetOf(ctx, tenant), source, { holder: lockHolderOf(ctx, tenant), ...options }),
    );
    if (result.applied.length) await markMigrated(ctx, tenant.id);
    return result;
  } catch (error) {
    if (appliedBefore(error).length) await markMigrated(ctx, tenant.id);
    throw error;
  }
}

/** The seeders of seeds.directory (which must exist when the config names it). */
export function configuredSeeders(ctx: AftyContext): ScriptFile[] {
  const { directory, required } = ctx.config.seeds;
  return listSeeders(directory, required ? 'seeds.directory' : undefined);
}

/**
 * The seeders a run uses: --class names in order, else the default seeder (DatabaseSeeder /
 * default). Without either, exit 2 naming --class and what exists.
 */
export function seedersFor(ctx: AftyContext, classes: string[] | undefined): ScriptFile[] {
  const directory = ctx.config.seeds.directory;
  const seeders = configuredSeeders(ctx);
  if (classes?.length) return pickSeeders(seeders, classes, directory);
  const fallback = defaultSeeder(seeders);
  if (!fallback) {
    throw new InputError(`no default seeder (DatabaseSeeder or default) in ${directory}`, {
      hint: seeders.length
        ? `pass --class with some of: ${seeders.map((seeder) => seeder.name).join(', ')}`
        : 'add seed files there, or set seeds.directory in the config',
    });
  }
  return [fallback];
}

/**
 * Splits a --class value: "A,B" and repeated flags both work, order kept. undefined when --class
 * was not given; given but naming nothing (`--class ,`) is exit 2, never the default seeder.
 */
export function splitClasses(values: string[] | undefined): string[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const names = values
    .flatMap((value) => value.split(','))
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) {
    throw new InputError(
      `--class names no seeder (got ${values.map((value) => JSON.stringify(value)).join(', ')})`,
      {
        hint: 'pass seeder names, e.g. --class UsersSeeder,ProjectsSeeder, or leave --class out for the default seeder',
      },
    );
  }
  return names;
}

export interface ProvisionOptions {
  seeders?: ScriptFile[];
  onMigrated?(result: MigrateResult & { fromSnapshot: number }): void;
  onSeeded?(run: SeederRun): void;
}

/**
 * `tenant create --migrate [--seed]`: schema from the snapshot (then newer migrations) and
 * seeders, as saga steps; if one fails, createTenant drops the new database, user and rows.
 */
export function provisioningSteps(
  ctx: AftyContext,
  options: ProvisionOptions,
): (tenant: TenantRecord) => Step[] {
  const source = sourceOf(ctx);
  return (tenant) => {
    const steps: Step[] = [
      {
        name: 'migrate',
        run: async () => {
          const result = await provisionSchema(targetOf(ctx, tenant), source, ctx.config.migrations.snapshot);
          await markMigrated(ctx, tenant.id);
          options.onMigrated?.(result);
        },
      },
    ];
    if (options.seeders?.length) {
      const seeders = options.seeders;
      steps.push({
        name: 'seed',
        run: async () => {
          await seedTenant(targetOf(ctx, tenant), seeders, options.onSeeded);
        },
      });
    }
    return steps;
  };
}

/**
 * Finishes a half-created tenant the way its `tenant create` was asked to (diagnose --fix): the
 * same create again, with the recorded migrate, seed and status. If a step fails, the create
 * undoes the tenant.
 */
export async function finishProvisioning(ctx: AftyContext, tenant: TenantRecord): Promise<TenantRecord> {
  const plan = tenant.provisioning ?? { status: 'active', migrate: false, seed: false, classes: null };
  const registry = await ctx.registry();
  const domains = (await registry.listDomains([tenant.id])).map((domain) => domain.domain);
  // A copy's data comes from its clone or import: finishing it here would activate an empty tenant.
  if (plan.copy) {
    throw new InputError(`tenant ${tenant.id} is a half-created ${plan.copy.command} of ${plan.copy.from}`, {
      hint: provisioningRemedy(tenant, domains, registry.databaseNameFor(tenant.id)),
    });
  }
  const extraSteps = plan.migrate
    ? provisioningSteps(ctx, { seeders: plan.seed ? seedersFor(ctx, plan.classes ?? undefined) : [] })
    : undefined;
  return createTenant(
    ctx,
    {
      id: tenant.id,
      name: tenant.name,
      domains,
      server: tenant.server,
      status: plan.status,
      migrate: plan.migrate,
      seed: plan.seed,
      classes: plan.classes ?? undefined,
    },
    { extraSteps },
  );
}
