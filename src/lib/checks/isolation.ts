import type { Knex } from 'knex';
import {
  OperationError,
  ServiceError,
  classifyDriverError,
  errorMessage,
  isConnectionError,
  driverMessage,
} from '../errors.js';
import type { TenantRecord } from '../registry/index.js';
import { adminLocation, revealPassword, tenantLocation } from '../tenants/index.js';
import type { NetworkLocation } from '../servers/engine.js';
import { probesOf, type AccessAttempt, type EngineProbes } from './engine-probes.js';
import { probeName, sampleTargets, withDatabase } from './probes.js';
import type { CheckContext, CheckOutcome, TenantCheck } from './types.js';

/** A missing-table error on any engine (SQLite reports it by message only). */
function isMissingTable(error: unknown, probes: EngineProbes | null): boolean {
  return probes?.isMissingTable(error) === true || /no such table/i.test(errorMessage(error));
}

/** Why a tenant cannot take part in user-based probes, or undefined when it can. */
function userProbeSkip(ctx: CheckContext, tenant: TenantRecord): CheckOutcome | undefined {
  const server = ctx.afty.servers.get(tenant.server);
  if (!server.supportsUsers) {
    return {
      status: 'skip',
      message: `server "${tenant.server}" is SQLite: each tenant is its own file, with no database users`,
    };
  }
  if (!tenant.dbUser || !tenant.dbPassword) {
    return {
      status: 'warn',
      message: `${tenant.id} has no database user of its own: it connects with the server's credentials, which reach every tenant`,
      remedy: 'set tenancy.tenantUsers to true; tenants created without a user keep the server credentials',
    };
  }
  return undefined;
}

/**
 * The outcome of a sampled probe that found no violation: a pass over the targets reached, or a
 * warning when none could be reached (nothing was proven).
 */
function unlessUnreached(
  targets: number,
  unreached: string[],
  details: Record<string, unknown>,
  verb: string,
  remedy: string,
): CheckOutcome {
  if (unreached.length === targets) {
    return {
      status: 'warn',
      message: `no other tenant could be probed: ${unreached.join('; ')}`,
      details,
      remedy,
    };
  }
  return { status: 'pass', message: `${verb} ${targets - unreached.length} other tenant(s)`, details };
}

/**
 * Tries one statement that must be refused; returns a description when it succeeded. Only
 * success is a breach: a server that cannot serve (connection limit, shutdown) is exit 3, and any
 * other error means the probe proved nothing, never that the tenant reaches another.
 */
async function mustBeDenied(
  db: Knex,
  probes: EngineProbes,
  attempt: AccessAttempt,
): Promise<string | undefined> {
  try {
    await db.raw(attempt.sql, attempt.bindings);
    return `${attempt.what} succeeded`;
  } catch (error) {
    if (probes.isDenied(error)) return undefined;
    if (isConnectionError(error))
      throw classifyDriverError(error, { target: `the server of ${attempt.what}` })!;
    throw new OperationError(`${attempt.what} could not be probed: ${driverMessage(error)}`, {
      cause: error,
    });
  }
}

/**
 * Connects as `tenant`'s own user and tries to read, write and create a table in `target`'s
 * database (or schema), where a probe table was placed by the admin; then asks the catalog what
 * the user holds there (grants on tables the probe table does not stand for). Returns what was
 * allowed.
 */
async function probeAccess(ctx: CheckContext, tenant: TenantRecord, target: TenantRecord): Promise<string[]> {
  const server = ctx.afty.servers.get(target.server);
  const probes = probesOf(server.driver)!;
  const password = revealPassword(tenant, ctx.afty.config.secret)!;
  const asTenant = server.tenantLocation(target.database, {
    user: tenant.dbUser!,
    password,
  }) as NetworkLocation;
  const adminOnTarget = adminLocation(ctx.afty, target) as NetworkLocation;
  const readable = probeName();
  const created = probeName();
  return withDatabase(adminOnTarget, async (admin) => {
    await admin.schema.createTable(readable, (table) => table.integer('id'));
    try {
      await admin(readable).insert({ id: 1 });
      const allowed: string[] = [];
      const login = probes.access.login(asTenant);
      try {
        await withDatabase(login, async (db) => {
          // knex connects on the first query: this is the login.
          await db.raw('SELECT 1');
          if (probes.access.loginReaches(asTenant))
            allowed.push(`connecting to ${target.database} succeeded`);
          for (const attempt of probes.access.attempts(adminOnTarget, readable, created)) {
            const breach = await mustBeDenied(db, probes, attempt);
            if (breach) allowed.push(breach);
          }
        });
      } catch (error) {
        // The login itself refused (no CONNECT on another tenant's PostgreSQL database): as it should be.
        if (!probes.access.loginRefused(error)) throw error;
      }
      const granted = (await probes.access.granted(admin, tenant.dbUser!, adminOnTarget)).filter(
        (grant) => !grant.includes(readable),
      );
      return [...allowed, ...granted.map((grant) => `holds ${grant}`)];
    } finally {
      await admin.schema.dropTableIfExists(readable);
      await admin.schema.dropTableIfExists(created);
    }
  });
}

const crossTenantAccess: TenantCheck = {
  id: 'isolation.database-access',
  category: 'isolation',
  title: "a tenant's user cannot read or write another tenant's database",
  remedy:
    "revoke the tenant user's privileges on other tenants' databases (and PUBLIC's), then afty test isolation",
  scope: 'tenant',
  async run(ctx, tenant) {
    const skip = userProbeSkip(ctx, tenant);
    if (skip) return skip;
    const targets = sampleTargets(await ctx.fleet(), tenant, ctx.options.sample);
    if (targets.length === 0) return { status: 'skip', message: 'no other tenant to probe against' };
    const violations: string[] = [];
    const unreached: string[] = [];
    for (const target of targets) {
      try {
        violations.push(
          ...(await probeAccess(ctx, tenant, target)).map(
            (line) => `${tenant.dbUser} on ${target.id}: ${line}`,
          ),
        );
      } catch (error) {
        if (error instanceof ServiceError) throw error;
        unreached.push(`${target.id}: ${errorMessage(error)}`);
      }
    }
    const details = { targets: targets.map((target) => target.id), violations, unreached };
    if (violations.length > 0) {
      return {
        status: 'fail',
        message: `${tenant.id}'s user reaches other tenants: ${violations.join('; ')}`,
        details,
        remedy: `${probesOf(ctx.afty.servers.get(tenant.server).driver)!.revokeOthers(tenant.dbUser!, ctx.afty.config.tenancy.userHost)}, then afty test isolation --tenant ${tenant.id}`,
      };
    }
    return unlessUnreached(targets.length, unreached, details, 'refused on', 'afty diagnose');
  },
};

const rowVisibility: TenantCheck = {
  id: 'isolation.rows',
  category: 'isolation',
  title: 'rows written in one tenant are invisible from another',
  remedy: 'two tenants share a database: give each tenant its own database (afty tenant show)',
  scope: 'tenant',
  async run(ctx, tenant) {
    const targets = sampleTargets(await ctx.fleet(), tenant, ctx.options.sample);
    if (targets.length === 0) return { status: 'skip', message: 'no other tenant to probe against' };
    const table = probeName();
    const own = tenantLocation(ctx.afty, tenant);
    return withDatabase(own, async (db) => {
      try {
        await db.schema.createTable(table, (t) => t.string('marker', 40));
      } catch (error) {
        if (isConnectionError(error)) throw classifyDriverError(error, { target: tenant.database })!;
        return {
          status: 'fail',
          message: `cannot write a probe row in ${tenant.database}: ${driverMessage(error)}`,
          remedy: `afty test connections --tenant ${tenant.id}`,
        };
      }
      try {
        await db(table).insert({ marker: table });
        const seenBy: string[] = [];
        const unreached: string[] = [];
        for (const target of targets) {
          try {
            await withDatabase(tenantLocation(ctx.afty, target), (other) => other(table).select('marker'));
            seenBy.push(target.id);
          } catch (error) {
            if (error instanceof ServiceError) throw error;
            if (!isMissingTable(error, probesOf(ctx.afty.servers.get(target.server).driver)))
              unreached.push(`${target.id}: ${driverMessage(error)}`);
          }
        }
        const details = { targets: targets.map((target) => target.id), seenBy, unreached };
        if (seenBy.length > 0) {
          return {
            status: 'fail',
            message: `a row written in ${tenant.id} (${tenant.database}) is visible from ${seenBy.join(', ')}`,
            details,
            remedy: `afty tenant show ${tenant.id} — each tenant needs a database of its own`,
          };
        }
        return unlessUnreached(targets.length, unreached, details, 'invisible from', 'afty test connections');
      } finally {
        await db.schema.dropTableIfExists(table);
      }
    });
  },
};

export const isolationDatabaseChecks: TenantCheck[] = [crossTenantAccess, rowVisibility];
