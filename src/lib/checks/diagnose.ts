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
import { adminLocation, generatePassword, provisioningRemedy, sealPassword } from '../tenants/index.js';
import type { NetworkLocation } from '../servers/engine.js';
import { PROVISIONING } from '../validation/index.js';
import { adminSqlCommand, forTenant, redisNodes, serverAdminLocation, withDatabase } from './probes.js';
import type { Check, CheckOutcome, GlobalCheck, ServerCheck, TenantCheck } from './types.js';
import { probesOf } from './engine-probes.js';
import { recreateDatabase } from './database.js';
import { engineOf } from '../servers/engines/index.js';

/** Connections afty itself may hold on one server: one per concurrent tenant plus its admin and registry pools. */
export function connectionsNeeded(concurrency: number): number {
  return concurrency + 8;
}

const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@"']+:[^\s@"']+@/i;
const PASSWORD_KEY = /["']?password["']?\s*:\s*["'][^"']+["']/i;

interface Finding {
  severity: 'warn' | 'fail';
  text: string;
  remedy: string;
}

/** Insecure settings: passwords in the config file, tenants without users on a server, a missing key. */
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
  // Servers with logins of their own (MySQL, PostgreSQL): SQLite tenants are files.
  const networkServers = config.servers.filter((server) => server.location.driver !== 'sqlite');
  if (networkServers.length > 0 && !config.tenancy.tenantUsers) {
    findings.push({
      severity: 'warn',
      text: 'tenancy.tenantUsers is off: every tenant connects with the server credentials, which reach all tenants',
      remedy: 'set tenancy.tenantUsers to true in the config',
    });
  }
  if (
    networkServers.length > 0 &&
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

const serverHealth: ServerCheck = {
  id: 'servers.variables',
  category: 'servers',
  title:
    'server reachable; its connection limit and idle settings fit the configured concurrency (MySQL wait_timeout, PostgreSQL idle_in_transaction_session_timeout)',
  remedy:
    'raise max_connections on the server, or lower concurrency in the config; change the settings named',
  scope: 'server',
  async run(ctx, server) {
    const { version } = await server.ping();
    const probes = probesOf(server.driver);
    if (!probes) return { status: 'pass', message: `${server.description}: ${version}` };
    const settings = await withDatabase(serverAdminLocation(server), (db) => probes.serverSettings(db));
    const { concurrency } = ctx.afty.config;
    const needed = connectionsNeeded(concurrency);
    const details = { version, ...settings.details, concurrency, needed };
    const base = `${version}: ${settings.summary}, concurrency ${concurrency}`;
    if (settings.usable < needed) {
      return {
        status: 'fail',
        message: `${base}: afty alone may need ${needed} connections, the server lets clients open ${settings.usable}`,
        details,
      };
    }
    const problems: string[] = [];
    if (settings.usable - settings.connected < needed)
      problems.push(`only ${settings.usable - settings.connected} connections free, afty may need ${needed}`);
    problems.push(...settings.problems);
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
    const probes = probesOf(server.driver);
    if (!probes) return { status: 'skip', message: `${server.description}: no users` };
    if (!probes.anonymousUsers)
      return {
        status: 'skip',
        message: `${server.description}: ${engineOf(server.driver).label} has no anonymous users`,
      };
    const find = probes.anonymousUsers;
    const users = await withDatabase(serverAdminLocation(server), (db) => find(db));
    if (users.length === 0) return { status: 'pass', message: `no anonymous users on "${server.name}"` };
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
    const probes = probesOf(server.driver)!;
    const users = await withDatabase(serverAdminLocation(server), (db) =>
      probes.prefixedUsers(db, databasePrefix, userHost),
    );
    const stale = users.filter((user) => !owned.has(user));
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
        .map((user) => `${user}: ${adminSqlCommand(server, probes.dropUser(user, userHost))}`)
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
    const storedHow = registry.plainPasswords
      ? 'in the registry as the application reads it'
      : 'encrypted in the registry';
    if (!(await server.databaseExists(tenant.database))) {
      // PostgreSQL gives a role its database (or schema) as it makes it: both are made together,
      // the new password stored first so the user is created with it.
      await registry.updateTenant(tenant.id, { dbPassword: stored });
      tenant.dbPassword = stored;
      const created = await recreateDatabase(ctx, tenant);
      return `recreated user ${tenant.dbUser} with a new random password (stored ${storedHow}) and its missing database: ${created}`;
    }
    let given = '';
    await server.createUser(tenant.dbUser, password, tenant.database);
    try {
      const user = tenant.dbUser;
      const place = adminLocation(ctx.afty, tenant) as NetworkLocation;
      const handedBack = await withDatabase(place, (db) =>
        probesOf(server.driver)!.handBack(db, user, place.schema),
      );
      if (handedBack > 0) given = `, and gave it back ${handedBack} table(s) and view(s) it owned`;
      await registry.updateTenant(tenant.id, { dbPassword: stored });
    } catch (error) {
      // A user whose password the registry does not know is worse than no user.
      await server.dropUser(tenant.dbUser);
      throw error;
    }
    tenant.dbPassword = stored;
    return `recreated user ${tenant.dbUser} with a new random password (stored ${storedHow})${given}`;
  },
};

const dumpTool: GlobalCheck = {
  id: 'tools.dump',
  category: 'tools',
  title:
    "the dump and load tools of each configured server's engine are installed (mariadb-dump, pg_dump, …)",
  remedy: 'install the client tools the finding names',
  scope: 'global',
  async run(ctx) {
    const kinds = [...new Set(ctx.afty.config.servers.map((server) => server.location.driver))];
    const engines = kinds.map((kind) => engineOf(kind)).filter((engine) => engine.backupTools);
    if (engines.length === 0)
      return { status: 'skip', message: 'only SQLite servers are configured: their backups need no tool' };
    const { execa } = await import('execa');
    const found: string[] = [];
    const missing: string[] = [];
    const remedies: string[] = [];
    const tools: Record<string, string> = {};
    for (const engine of engines) {
      const { dump, load, installHint } = engine.backupTools!;
      let lacking = false;
      // Each role (dump, load) needs one of its names; the first that runs wins.
      for (const names of [dump, load]) {
        let version: string | undefined;
        for (const tool of names) {
          const result = await execa(tool, ['--version'], { reject: false, timeout: 5000 });
          if (result.exitCode === 0) {
            version = String(result.stdout).trim();
            tools[tool] = version;
            break;
          }
        }
        if (version) found.push(version);
        else {
          lacking = true;
          missing.push(names.length > 1 ? `neither ${names.join(' nor ')}` : names[0]!);
        }
      }
      if (lacking) remedies.push(`${engine.label}: ${installHint}`);
    }
    if (missing.length > 0) {
      return {
        status: 'fail',
        message: `${missing.join('; ')}: not on the PATH, so backups of those servers cannot run`,
        details: { tools, missing },
        remedy: remedies.join('; '),
      };
    }
    return { status: 'pass', message: [...new Set(found)].join('; '), details: { tools } };
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
