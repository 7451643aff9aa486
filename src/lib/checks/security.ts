import type { Redis } from 'ioredis';
import { isIP } from 'node:net';
import type { TenantRecord } from '../registry/index.js';
import { adminLocation, decryptSecret, isEncrypted, tenantLocation } from '../tenants/index.js';
import type { NetworkLocation } from '../servers/engine.js';
import { probesOf, type TenantPlace } from './engine-probes.js';
import { forTenant, redisNodes, serverAdminLocation, withDatabase } from './probes.js';
import { withoutDatabase } from '../config/index.js';
import type { Check, CheckContext, CheckOutcome, ServerCheck } from './types.js';

/** Tenants without a database user of their own are not subject to the user checks. */
function userSkip(ctx: CheckContext, tenant: TenantRecord): CheckOutcome | undefined {
  if (!ctx.afty.servers.get(tenant.server).supportsUsers) {
    return { status: 'skip', message: `server "${tenant.server}" is SQLite, which has no database users` };
  }
  if (!tenant.dbUser) return { status: 'skip', message: `${tenant.id} has no database user of its own` };
  return undefined;
}

/** Where a tenant's user lives on its server, for the engine's probes. */
function placeOf(ctx: CheckContext, tenant: TenantRecord): TenantPlace {
  const location = adminLocation(ctx.afty, tenant) as NetworkLocation;
  return {
    user: tenant.dbUser!,
    userHost: ctx.afty.config.tenancy.userHost,
    database: location.connection.database ?? tenant.database,
    ...(location.schema !== undefined ? { schema: location.schema } : {}),
  };
}

/** The admin login's own privileges: reported, and what afty's work needs checked. */
const adminPrivileges: ServerCheck = {
  id: 'security.admin',
  category: 'security',
  title: "the server admin login's own privileges",
  remedy: 'grant the admin login what the finding names (see docs/checks.md for what afty needs)',
  scope: 'server',
  async run(ctx, server) {
    const probes = probesOf(server.driver);
    if (!probes) return { status: 'skip', message: `${server.description}: SQLite has no logins` };
    const { summary, problems, details } = await withDatabase(serverAdminLocation(server), (db) =>
      probes.adminPrivileges(db, {
        createDatabases: true,
        createUsers: ctx.afty.config.tenancy.tenantUsers,
      }),
    );
    if (problems.length > 0)
      return { status: 'warn', message: `${summary}: ${problems.join('; ')}`, details };
    return { status: 'pass', message: summary, details };
  },
};

const REDIS_LOOPBACK = new Set(['127.0.0.1', '::1', '-::1', 'localhost']);

/** Whether the Redis server is bound beyond loopback, and whether the default user needs a password. */
async function redisExposure(
  client: Redis,
  url: string,
): Promise<{ exposed: boolean; passwordRequired: boolean; source: string }> {
  try {
    const [, bind = ''] = (await client.config('GET', 'bind')) as string[];
    const user = (await client.call('ACL', 'GETUSER', 'default')) as unknown[];
    const flags = (user[user.indexOf('flags') + 1] as string[] | undefined) ?? [];
    const addresses = bind.split(/\s+/).filter(Boolean);
    return {
      exposed: addresses.length === 0 || addresses.some((address) => !REDIS_LOOPBACK.has(address)),
      passwordRequired: !flags.includes('nopass'),
      source: `bind "${bind}"`,
    };
  } catch {
    // CONFIG and ACL may be renamed or forbidden (managed Redis): judge by the URL instead.
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const loopback = REDIS_LOOPBACK.has(host) || (isIP(host) === 4 && host.startsWith('127.'));
    return { exposed: !loopback, passwordRequired: parsed.password !== '', source: `URL host ${host}` };
  }
}

export const securityChecks: Check[] = [
  adminPrivileges,
  {
    id: 'security.privileges',
    category: 'security',
    title: 'tenant users have no global privileges, no GRANT OPTION and no other database',
    remedy: 'REVOKE the listed privileges from the tenant user',
    scope: 'tenant',
    async run(ctx, tenant) {
      const skip = userSkip(ctx, tenant);
      if (skip) return skip;
      const server = ctx.afty.servers.get(tenant.server);
      const place = placeOf(ctx, tenant);
      const findings = await withDatabase(serverAdminLocation(server), (db) =>
        probesOf(server.driver)!.tenantPrivileges(db, place),
      );
      if (!findings) {
        return {
          status: 'fail',
          message: `user ${probesOf(server.driver)!.describeUser(place)} does not exist`,
          remedy: forTenant('diagnose --fix', tenant),
        };
      }
      if (findings.violations.length > 0) {
        return {
          status: 'fail',
          message: `${tenant.dbUser} has ${findings.violations.join('; ')}`,
          details: { violations: findings.violations },
          remedy: findings.remedy,
        };
      }
      return {
        status: 'pass',
        message: `${tenant.dbUser}: privileges on ${place.schema ?? tenant.database} only`,
      };
    },
  },
  {
    id: 'security.empty-password',
    category: 'security',
    title: 'no tenant user logs in with an empty password',
    remedy: 'drop the user and let afty diagnose --fix recreate it with a new random password',
    scope: 'tenant',
    async run(ctx, tenant) {
      const skip = userSkip(ctx, tenant);
      if (skip) return skip;
      const location = ctx.afty.servers
        .get(tenant.server)
        .tenantLocation(tenant.database, { user: tenant.dbUser!, password: '' });
      const probes = probesOf(ctx.afty.servers.get(tenant.server).driver)!;
      try {
        // Tried for real: a login with no password must be refused.
        await withDatabase(withoutDatabase(location), (db) => db.raw('SELECT 1'));
      } catch (error) {
        if (probes.passwordRequired(error))
          return { status: 'pass', message: `${tenant.dbUser}: an empty password is refused` };
        // Let past the password and refused only the database: the login itself worked.
        if (!probes.isDenied(error)) throw error;
      }
      return probes.passwordless(placeOf(ctx, tenant), forTenant('diagnose --fix', tenant));
    },
  },
  {
    id: 'security.stored-credentials',
    category: 'security',
    title: 'tenant passwords are stored encrypted and decrypt with AFTY_SECRET',
    remedy: 'set AFTY_SECRET to the key used when the tenants were created',
    scope: 'tenant',
    async run(ctx, tenant) {
      if (!tenant.dbPassword) {
        return tenant.dbUser
          ? {
              status: 'fail',
              message: `${tenant.id} has user ${tenant.dbUser} but no stored password`,
              remedy: forTenant('diagnose --fix', tenant),
            }
          : { status: 'skip', message: `${tenant.id} has no credentials of its own` };
      }
      if (tenant.plainPassword) {
        // stancl's format: Laravel reads tenancy_db_password as is, so afty must not encrypt it.
        return {
          status: 'warn',
          message: `${tenant.id}'s database password is stored in plain text in the registry's data column, as stancl/tenancy keeps it`,
          remedy:
            'restrict who can read the central database; stancl can encrypt it with a custom Tenant model cast',
        };
      }
      if (!isEncrypted(tenant.dbPassword)) {
        return {
          status: 'fail',
          message: `${tenant.id}'s database password is stored in plain text`,
          remedy: `drop user ${tenant.dbUser}, then ${forTenant('diagnose --fix', tenant)} recreates it with an encrypted password`,
        };
      }
      decryptSecret(tenant.dbPassword, ctx.afty.config.secret, tenant.id);
      return { status: 'pass', message: 'encrypted (AES-256-GCM) and readable with AFTY_SECRET' };
    },
  },
  {
    id: 'security.registry-credentials',
    category: 'security',
    title: "the registry's own connection is not used for tenant work",
    remedy: "set tenancy.tenantUsers to true so tenant work runs as each tenant's own user",
    scope: 'tenant',
    async run(ctx, tenant) {
      const central = ctx.afty.config.central;
      const work = tenantLocation(ctx.afty, tenant);
      if (central.driver === 'sqlite' || work.driver === 'sqlite') {
        const shared =
          central.driver === 'sqlite' && work.driver === 'sqlite' && central.filename === work.filename;
        return shared
          ? { status: 'fail', message: `${tenant.id}'s database is the registry's file ${central.filename}` }
          : { status: 'pass', message: 'the registry and the tenant are separate databases' };
      }
      const sameServer =
        central.connection.host === work.connection.host && central.connection.port === work.connection.port;
      // A tenant schema in the registry's database is apart from the registry's tables.
      if (sameServer && central.connection.database === work.connection.database && !work.schema) {
        return {
          status: 'fail',
          message: `${tenant.id}'s database is the registry database ${tenant.database}`,
        };
      }
      if (sameServer && central.connection.user === work.connection.user) {
        return {
          status: 'fail',
          message: `tenant work for ${tenant.id} connects as ${work.connection.user}, the registry's own user`,
        };
      }
      return {
        status: 'pass',
        message: `tenant work connects as ${work.connection.user}, the registry as ${central.connection.user}`,
      };
    },
  },
  {
    id: 'security.redis-auth',
    category: 'security',
    title: 'Redis requires a password when bound beyond loopback',
    remedy: 'set requirepass (or an ACL user) in Redis and put the password in cache.url / AFTY_REDIS_URL',
    scope: 'global',
    async run(ctx) {
      const client = await ctx.redis();
      if (!client) return { status: 'skip', message: 'no Redis configured' };
      const nodes = await Promise.all(
        redisNodes(client).map((node) => redisExposure(node, ctx.afty.config.cache.url!)),
      );
      const open = nodes.filter((node) => node.exposed && !node.passwordRequired);
      const details = { nodes };
      if (open.length > 0) {
        return {
          status: 'fail',
          message: `Redis is reachable beyond loopback without a password (${open.map((node) => node.source).join('; ')})`,
          details,
        };
      }
      if (nodes.every((node) => node.passwordRequired))
        return { status: 'pass', message: `a password is required (${nodes[0]!.source})`, details };
      return {
        status: 'pass',
        message: `loopback only (${nodes.map((node) => node.source).join('; ')}); no password needed`,
        details,
      };
    },
  },
];
