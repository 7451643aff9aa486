import { readFileSync } from 'node:fs';
import type { AftyConfig } from '../config/index.js';
import { OperationError, errorMessage } from '../errors.js';
import type { AftyContext } from '../context.js';
import {
  REGISTRY_SCHEMA_VERSION,
  registrySchemaVersion,
  type Registry,
  type TenantRecord,
} from '../registry/index.js';
import { generatePassword, provisioningRemedy, sealPassword } from '../tenants/index.js';
import { PROVISIONING } from '../validation/index.js';
import { adminSqlCommand, forTenant, redisNodes, serverAdminLocation, withDatabase } from './probes.js';
import type { Check, CheckOutcome, GlobalCheck, ServerCheck, TenantCheck } from './types.js';

/** Connections afty itself may hold on one server: one per concurrent tenant plus its admin and registry pools. */
export function connectionsNeeded(concurrency: number): number {
  return concurrency + 8;
}

/** Below this, a connection idle between two migration steps can be closed by the server. */
const MIN_WAIT_TIMEOUT_S = 60;

const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@"']+:[^\s@"']+@/i;
const PASSWORD_KEY = /["']?password["']?\s*:\s*["'][^"']+["']/i;

interface Finding {
  severity: 'warn' | 'fail';
  text: string;
  remedy: string;
}

/** Insecure settings: passwords in the config file, tenants without users on MySQL, a missing key. */
export function insecureSettings(config: AftyConfig): Finding[] {
  const findings: Finding[] = [];
  if (config.file) {
    const text = readFileSync(config.file, 'utf8');
    if (URL_WITH_PASSWORD.test(text) || PASSWORD_KEY.test(text)) {
      findings.push({
        severity: 'warn',
        text: `${config.file} contains a password`,
        remedy:
          'move credentials to AFTY_CENTRAL_URL / AFTY_SERVER_URL / AFTY_REDIS_URL (or .env, kept out of version control)',
      });
    }
  }
  const mysqlServers = config.servers.filter((server) => server.location.driver === 'mysql');
  if (mysqlServers.length > 0 && !config.tenancy.tenantUsers) {
    findings.push({
      severity: 'warn',
      text: 'tenancy.tenantUsers is off: every tenant connects with the server credentials, which reach all tenants',
      remedy: 'set tenancy.tenantUsers to true in the config',
    });
  }
  if (
    mysqlServers.length > 0 &&
    config.tenancy.tenantUsers &&
    (!config.secret || config.secret.length < 16)
  ) {
    findings.push({
      severity: 'fail',
      text: 'AFTY_SECRET is missing or shorter than 16 characters: tenant credentials cannot be stored or read',
      remedy:
        'export AFTY_SECRET=<the key the tenants were created with> (new installs: openssl rand -hex 32)',
    });
  }
  return findings;
}

/**
 * The registry for diagnose: opening it normally upgrades its schema, so an outdated schema is
 * refused here and reported by registry.schema instead.
 */
export async function readOnlyRegistry(afty: AftyContext): Promise<Registry> {
  const version = await withDatabase(afty.config.central, (db) => registrySchemaVersion(db));
  if (version !== REGISTRY_SCHEMA_VERSION) {
    throw new OperationError(
      `the registry schema is ${version ?? 'missing'}, not ${REGISTRY_SCHEMA_VERSION}: tenants were not read`,
      { hint: 'afty init' },
    );
  }
  return afty.registry();
}

const unknownKeys: GlobalCheck = {
  id: 'configuration.unknown-keys',
  category: 'configuration',
  title: 'the config has no unknown keys',
  remedy: 'fix the spelling or remove the key (see docs/readme for the config keys)',
  scope: 'global',
  async run(ctx) {
    const { warnings, file } = ctx.afty.config;
    if (warnings.length === 0)
      return { status: 'pass', message: file ? `${file}: every key is known` : 'no config file: defaults' };
    return { status: 'warn', message: warnings.join('; '), details: { warnings } };
  },
};

const insecure: GlobalCheck = {
  id: 'configuration.insecure',
  category: 'configuration',
  title: 'no insecure settings',
  remedy: 'see the finding',
  scope: 'global',
  async run(ctx) {
    const findings = insecureSettings(ctx.afty.config);
    if (findings.length === 0)
      return {
        status: 'pass',
        message: 'no password in the config file; tenant users and AFTY_SECRET in place',
      };
    return {
      status: findings.some((finding) => finding.severity === 'fail') ? 'fail' : 'warn',
      message: findings.map((finding) => finding.text).join('; '),
      remedy: findings.map((finding) => finding.remedy).join('; '),
      details: { findings: findings.map(({ severity, text }) => ({ severity, text })) },
    };
  },
};

const registrySchema: GlobalCheck = {
  id: 'registry.schema',
  category: 'registry',
  title: 'the central registry schema is current',
  remedy: 'afty init',
  scope: 'global',
  async run(ctx) {
    const version = await withDatabase(ctx.afty.config.central, (db) => registrySchemaVersion(db));
    if (version === REGISTRY_SCHEMA_VERSION) return { status: 'pass', message: `schema ${version}` };
    if (version === undefined) return { status: 'fail', message: 'the central database has no registry yet' };
    if (version > REGISTRY_SCHEMA_VERSION) {
      return {
        status: 'fail',
        message: `schema ${version} is newer than this afty (${REGISTRY_SCHEMA_VERSION})`,
        remedy: 'upgrade afty',
      };
    }
    return { status: 'fail', message: `schema ${version} is behind ${REGISTRY_SCHEMA_VERSION}` };
  },
};

/** Reads server variables from SHOW GLOBAL VARIABLES / STATUS. */
async function serverVariables(location: Parameters<typeof withDatabase>[0]): Promise<Map<string, string>> {
  return withDatabase(location, async (db) => {
    const [variables] = (await db.raw(
      "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('max_connections', 'wait_timeout')",
    )) as [Array<{ Variable_name: string; Value: string }>];
    const [status] = (await db.raw("SHOW GLOBAL STATUS WHERE Variable_name = 'Threads_connected'")) as [
      Array<{ Variable_name: string; Value: string }>,
    ];
    return new Map([...variables, ...status].map((row) => [row.Variable_name.toLowerCase(), row.Value]));
  });
}

const serverHealth: ServerCheck = {
  id: 'servers.variables',
  category: 'servers',
  title: 'server reachable; max_connections and wait_timeout fit the configured concurrency',
  remedy: 'raise max_connections / wait_timeout on the server, or lower concurrency in the config',
  scope: 'server',
  async run(ctx, server) {
    const { version } = await server.ping();
    if (server.driver === 'sqlite') return { status: 'pass', message: `${server.description}: ${version}` };
    const variables = await serverVariables(serverAdminLocation(server));
    const maxConnections = Number(variables.get('max_connections'));
    const connected = Number(variables.get('threads_connected'));
    const waitTimeout = Number(variables.get('wait_timeout'));
    const needed = connectionsNeeded(ctx.afty.config.concurrency);
    const details = {
      version,
      maxConnections,
      threadsConnected: connected,
      waitTimeoutS: waitTimeout,
      concurrency: ctx.afty.config.concurrency,
      needed,
    };
    const base = `${version}: max_connections ${maxConnections} (${connected} in use), wait_timeout ${waitTimeout}s, concurrency ${ctx.afty.config.concurrency}`;
    if (maxConnections < needed) {
      return { status: 'fail', message: `${base}: afty alone may need ${needed} connections`, details };
    }
    const problems: string[] = [];
    if (maxConnections - connected < needed)
      problems.push(`only ${maxConnections - connected} connections free, afty may need ${needed}`);
    if (waitTimeout < MIN_WAIT_TIMEOUT_S)
      problems.push(`wait_timeout below ${MIN_WAIT_TIMEOUT_S}s closes connections idle between long steps`);
    if (problems.length > 0) return { status: 'warn', message: `${base}: ${problems.join('; ')}`, details };
    return { status: 'pass', message: base, details };
  },
};

/**
 * A stock mariadb-install-db leaves anonymous users (''@'localhost', ''@'<hostname>'). MySQL
 * matches the most specific host first, so from those hosts every tenant user (user@'%') logs in
 * as the anonymous one, without the tenant's grants: each tenant login fails.
 */
const anonymousUsers: ServerCheck = {
  id: 'servers.anonymous-users',
  category: 'servers',
  title: 'no anonymous users shadow the tenant logins',
  remedy: "drop the anonymous users (DROP USER ''@'localhost'), as a stock install leaves them",
  scope: 'server',
  async run(_ctx, server) {
    if (server.driver === 'sqlite') return { status: 'skip', message: `${server.description}: no users` };
    const [rows] = (await withDatabase(serverAdminLocation(server), (db) =>
      db.raw("SELECT Host AS host FROM mysql.user WHERE User = '' ORDER BY Host"),
    )) as [Array<{ host: string }>];
    if (rows.length === 0) return { status: 'pass', message: `no anonymous users on "${server.name}"` };
    const users = rows.map((row) => `''@'${row.host.replace(/'/g, "''")}'`);
    return {
      status: 'fail',
      message: `anonymous user(s) ${users.join(', ')} on "${server.name}": tenant users logging in from those hosts get the anonymous user's rights and are refused`,
      details: { users },
      remedy: `as an admin on "${server.name}": ${users.map((user) => `DROP USER ${user};`).join(' ')}`,
    };
  },
};

const halfCreated: GlobalCheck = {
  id: 'tenants.provisioning',
  category: 'tenants',
  title: 'no tenant is half-created (a tenant create that did not finish)',
  remedy: 'afty diagnose --fix (finishes them as their tenant create was asked to)',
  scope: 'global',
  async run(ctx) {
    const half = (await ctx.everyTenant()).filter((tenant) => tenant.status === PROVISIONING);
    if (half.length === 0) return { status: 'pass', message: 'every tenant create finished' };
    const registry = await ctx.afty.registry();
    const domains = await registry.listDomains(half.map((tenant) => tenant.id));
    const of = (tenant: TenantRecord) =>
      domains.filter((domain) => domain.tenantId === tenant.id).map((domain) => domain.domain);
    return {
      status: 'fail',
      message: `${half.length} half-created tenant(s), never served until finished: ${half.map((tenant) => `${tenant.id} (since ${tenant.createdAt})`).join(', ')}`,
      details: { tenants: half.map((tenant) => tenant.id) },
      remedy: half
        .map(
          (tenant) =>
            `${tenant.id}: ${provisioningRemedy(tenant, of(tenant), registry.databaseNameFor(tenant.id))}`,
        )
        .join('; '),
    };
  },
  async fix(ctx) {
    const { finishProvisioning } = await import('../migrations/index.js');
    const outcomes: string[] = [];
    for (const tenant of (await ctx.everyTenant()).filter((row) => row.status === PROVISIONING)) {
      try {
        const done = await finishProvisioning(ctx.afty, tenant);
        outcomes.push(`finished ${done.id} (status ${done.status})`);
      } catch (error) {
        // createTenant undoes what it did when a step fails, so a failure leaves it as it was or gone.
        outcomes.push(`could not finish ${tenant.id}: ${errorMessage(error)}`);
      }
    }
    return outcomes.join('; ');
  },
};

const interruptedRestores: GlobalCheck = {
  id: 'tenants.interrupted-restore',
  category: 'tenants',
  title: 'no backup restore was interrupted half-way',
  remedy: 'afty diagnose --fix (finishes or rolls back each), or the next backup restore of the tenant',
  scope: 'global',
  async run(ctx) {
    const { pendingJournals, journalOwnerRunning } = await import('../backup/index.js');
    const journals = await pendingJournals(ctx.afty.config.backup.directory);
    if (journals.length === 0) return { status: 'pass', message: 'no restore journal left' };
    const describe = ({ journal }: (typeof journals)[number]) =>
      `${journal.tenant} (${journalOwnerRunning(journal) ? `running, pid ${journal.pid}` : `killed at the ${journal.phase}`}, from ${journal.archive})`;
    const stale = journals.filter(({ journal }) => !journalOwnerRunning(journal));
    return {
      status: stale.length > 0 ? 'fail' : 'warn',
      message: `restores in progress or interrupted: ${journals.map(describe).join(', ')}`,
      details: { journals: journals.map(({ file }) => file) },
    };
  },
  async fix(ctx) {
    const { pendingJournals, journalOwnerRunning, recoverRestore } = await import('../backup/index.js');
    const done: string[] = [];
    for (const { journal } of await pendingJournals(ctx.afty.config.backup.directory)) {
      if (!journalOwnerRunning(journal)) done.push((await recoverRestore(ctx.afty, journal.tenant))!);
    }
    return done.join('; ');
  },
};

const interruptedMoves: GlobalCheck = {
  id: 'tenants.interrupted-move',
  category: 'tenants',
  title: 'no tenant move was interrupted half-way',
  remedy: 'afty diagnose --fix (finishes or undoes each), or the next tenant move of the tenant',
  scope: 'global',
  async run(ctx) {
    const [{ pendingMoves }, { journalOwnerRunning }] = await Promise.all([
      import('../tenants/move.js'),
      import('../backup/index.js'),
    ]);
    const journals = await pendingMoves(ctx.afty.config.backup.directory);
    if (journals.length === 0) return { status: 'pass', message: 'no move journal left' };
    const describe = (journal: (typeof journals)[number]) =>
      `${journal.tenant} ("${journal.from}" → "${journal.to}", ${journalOwnerRunning(journal) ? `running, pid ${journal.pid}` : 'interrupted'})`;
    const stale = journals.filter((journal) => !journalOwnerRunning(journal));
    return {
      status: stale.length > 0 ? 'fail' : 'warn',
      message: `moves in progress or interrupted: ${journals.map(describe).join(', ')}`,
      details: { tenants: journals.map((journal) => journal.tenant) },
    };
  },
  async fix(ctx) {
    const [{ pendingMoves, recoverMove }, { journalOwnerRunning }] = await Promise.all([
      import('../tenants/move.js'),
      import('../backup/index.js'),
    ]);
    const done: string[] = [];
    for (const journal of await pendingMoves(ctx.afty.config.backup.directory)) {
      if (!journalOwnerRunning(journal)) done.push((await recoverMove(ctx.afty, journal.tenant))!);
    }
    return done.join('; ');
  },
};

const staleUsers: ServerCheck = {
  id: 'servers.stale-users',
  category: 'servers',
  title: 'every tenant-prefixed database user belongs to a tenant',
  remedy: 'drop users no tenant uses (the finding gives the command for each)',
  scope: 'server',
  async run(ctx, server) {
    if (!server.supportsUsers) return { status: 'skip', message: `${server.description}: no users` };
    const { userHost } = ctx.afty.config.tenancy;
    // Tenant users are named after their databases, so they share the registry's database prefix.
    const { databasePrefix } = await ctx.afty.registry();
    const owned = new Set(
      (await ctx.everyTenant())
        .filter((tenant) => tenant.server === server.name && tenant.dbUser)
        .map((tenant) => tenant.dbUser!),
    );
    const [rows] = (await withDatabase(serverAdminLocation(server), (db) =>
      db.raw("SELECT User AS user FROM mysql.user WHERE User LIKE ? ESCAPE '!' AND Host = ? ORDER BY User", [
        `${databasePrefix.replace(/[!_%]/g, (char) => `!${char}`)}%`,
        userHost,
      ]),
    )) as [Array<{ user: string }>];
    const stale = rows.map((row) => row.user).filter((user) => !owned.has(user));
    if (stale.length === 0) {
      return {
        status: 'pass',
        message: `every ${databasePrefix}* user on "${server.name}" belongs to a tenant`,
      };
    }
    return {
      status: 'warn',
      message: `${stale.length} database user(s) on "${server.name}" with prefix ${databasePrefix} and no tenant (left by an interrupted create or a manual change): ${stale.join(', ')}`,
      details: { users: stale },
      remedy: stale
        .map((user) => `${user}: ${adminSqlCommand(server, `DROP USER '${user}'@'${userHost}'`)}`)
        .join('; '),
    };
  },
};

const tenantUser: TenantCheck = {
  id: 'tenants.user',
  category: 'tenants',
  title: "the tenant's database user exists",
  remedy: 'afty diagnose --fix (recreates the user with a new password)',
  scope: 'tenant',
  async run(ctx, tenant) {
    const server = ctx.afty.servers.get(tenant.server);
    if (!server.supportsUsers)
      return { status: 'skip', message: `server "${tenant.server}" is SQLite, which has no database users` };
    if (!tenant.dbUser) {
      return ctx.afty.config.tenancy.tenantUsers
        ? {
            status: 'warn',
            message: `${tenant.id} has no user of its own and connects with the server credentials`,
            remedy: 'tenants created before tenancy.tenantUsers was on keep the server credentials',
          }
        : { status: 'skip', message: 'tenancy.tenantUsers is off' };
    }
    if (await server.userExists(tenant.dbUser))
      return { status: 'pass', message: `user ${tenant.dbUser} exists` };
    return {
      status: 'fail',
      message: `user ${tenant.dbUser} of ${tenant.id} is missing on server "${tenant.server}"`,
      remedy: forTenant('diagnose --fix', tenant),
    };
  },
  async fix(ctx, tenant) {
    const server = ctx.afty.servers.get(tenant.server);
    if (!tenant.dbUser || (await server.userExists(tenant.dbUser)))
      throw new OperationError('nothing to recreate', { tenant: tenant.id });
    const password = generatePassword();
    const registry = await ctx.afty.registry();
    const stored = sealPassword(password, ctx.afty.config.secret, registry.plainPasswords);
    await server.createUser(tenant.dbUser, password, tenant.database);
    try {
      await registry.updateTenant(tenant.id, { dbPassword: stored });
    } catch (error) {
      // A user whose password the registry does not know is worse than no user.
      await server.dropUser(tenant.dbUser);
      throw error;
    }
    tenant.dbPassword = stored;
    return `recreated user ${tenant.dbUser} with a new random password (stored ${registry.plainPasswords ? 'in the registry as the application reads it' : 'encrypted in the registry'})`;
  },
};

const DUMP_TOOLS = ['mariadb-dump', 'mysqldump'];

const dumpTool: GlobalCheck = {
  id: 'tools.dump',
  category: 'tools',
  title: 'a dump tool (mariadb-dump or mysqldump) is installed for MySQL backups',
  remedy: 'install the MariaDB/MySQL client tools, e.g. apt-get install mariadb-client',
  scope: 'global',
  async run(ctx) {
    if (!ctx.afty.config.servers.some((server) => server.location.driver === 'mysql')) {
      return { status: 'skip', message: 'no MySQL server configured: SQLite backups need no tool' };
    }
    const { execa } = await import('execa');
    for (const tool of DUMP_TOOLS) {
      const result = await execa(tool, ['--version'], { reject: false, timeout: 5000 });
      if (result.exitCode === 0) return { status: 'pass', message: result.stdout.trim(), details: { tool } };
    }
    return {
      status: 'fail',
      message: `neither ${DUMP_TOOLS.join(' nor ')} is on the PATH: MySQL backups cannot run`,
    };
  },
};

const leftoverCredentials: GlobalCheck = {
  id: 'tools.credential-files',
  category: 'tools',
  title: 'no client option files with passwords were left behind by a killed afty',
  remedy: 'afty diagnose --fix (removes them)',
  scope: 'global',
  async run() {
    const { leftoverCredentialFolders, credentialsRoot } = await import('../child-process.js');
    const leftovers = leftoverCredentialFolders();
    if (leftovers.length === 0) return { status: 'pass', message: `none in ${credentialsRoot()}` };
    return {
      status: 'fail',
      message: `${leftovers.length} folder(s) of afty processes that were killed hold client option files with passwords: ${leftovers.map((leftover) => leftover.path).join(', ')}`,
      details: { folders: leftovers },
      remedy: `afty diagnose --fix, or rm -rf ${leftovers.map((leftover) => leftover.path).join(' ')}`,
    };
  },
  async fix() {
    const [{ leftoverCredentialFolders }, { rm }] = await Promise.all([
      import('../child-process.js'),
      import('node:fs/promises'),
    ]);
    const leftovers = leftoverCredentialFolders();
    for (const leftover of leftovers) await rm(leftover.path, { recursive: true, force: true });
    return `removed ${leftovers.length} leftover folder(s) with client option files`;
  },
};

const evictionPolicy: GlobalCheck = {
  id: 'cache.eviction-policy',
  category: 'cache',
  title: 'the Redis eviction policy suits a cache',
  remedy: 'CONFIG SET maxmemory-policy allkeys-lru (and in redis.conf), or raise maxmemory',
  scope: 'global',
  async run(ctx): Promise<CheckOutcome> {
    const client = await ctx.redis();
    if (!client) return { status: 'skip', message: 'no Redis configured' };
    let nodes: Array<{ policy: string; maxmemory: number }>;
    try {
      nodes = await Promise.all(
        redisNodes(client).map(async (node) => ({
          policy: ((await node.config('GET', 'maxmemory-policy')) as string[])[1] ?? 'unknown',
          maxmemory: Number(((await node.config('GET', 'maxmemory')) as string[])[1] ?? 0),
        })),
      );
    } catch {
      return { status: 'skip', message: 'CONFIG GET is not allowed on this Redis (managed service?)' };
    }
    const full = nodes.find((node) => node.maxmemory > 0 && node.policy === 'noeviction');
    if (full) {
      return {
        status: 'warn',
        message: `maxmemory ${full.maxmemory} with noeviction: cache writes fail once Redis is full`,
        details: { nodes },
      };
    }
    const { policy, maxmemory } = nodes[0]!;
    return {
      status: 'pass',
      message: `maxmemory-policy ${policy}${maxmemory > 0 ? `, maxmemory ${maxmemory}` : ', no memory limit'}`,
      details: { nodes },
    };
  },
};

export const diagnoseGlobalChecks: Check[] = [
  unknownKeys,
  insecure,
  registrySchema,
  serverHealth,
  anonymousUsers,
  halfCreated,
  interruptedRestores,
  interruptedMoves,
  staleUsers,
];
export { tenantUser, dumpTool, evictionPolicy, leftoverCredentials };
