import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/lib/config/index.js';
import { AftyContext } from '../../src/lib/context.js';
import { MARIADB_URL, POSTGRES_URL, mariadbAdmin, postgresAdmin, uniqueToken } from './services.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export interface TestProject {
  dir: string;
  /** Unique per project: database prefix (MariaDB) and Redis prefix. */
  token: string;
  prefix: string;
  config: Record<string, unknown>;
  /** Environment for spawned CLIs: AFTY_SECRET set, CI set (no prompts). */
  env: NodeJS.ProcessEnv;
  context(): Promise<AftyContext>;
  /** Creates the (empty) central MySQL database, as `afty init` would; a no-op for SQLite. */
  createCentral(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface ProjectOptions {
  /** `postgres-schema`: PostgreSQL with tenancy.mode "schema" (a schema per tenant in one database). */
  driver: 'sqlite' | 'mariadb' | 'postgres' | 'postgres-schema';
  /** Extra config keys merged over the defaults. */
  config?: Record<string, unknown>;
  /** Several MariaDB "servers" (same instance, different names) for placement tests. */
  servers?: string[];
}

/**
 * A temporary project folder with afty.config.json. MariaDB projects get a unique central
 * database and tenant prefix; cleanup drops every database and user they created.
 */
export function createProject(options: ProjectOptions): TestProject {
  const token = uniqueToken();
  const dir = mkdtempSync(path.join(os.tmpdir(), `afty-test-${token}-`));
  const prefix = `t${token}_`;
  const serverUrl =
    options.driver === 'mariadb'
      ? MARIADB_URL
      : options.driver === 'postgres'
        ? POSTGRES_URL
        : `${POSTGRES_URL}/afty_app_${token}`;
  const base: Record<string, unknown> =
    options.driver === 'sqlite'
      ? { tenancy: { databasePrefix: prefix } }
      : {
          central: `${options.driver === 'mariadb' ? MARIADB_URL : POSTGRES_URL}/afty_central_${token}`,
          servers: Object.fromEntries((options.servers ?? ['default']).map((name) => [name, serverUrl])),
          tenancy: {
            databasePrefix: prefix,
            tenantUsers: true,
            ...(options.driver === 'postgres-schema' ? { mode: 'schema' } : {}),
          },
        };
  const config = { ...base, cache: { prefix: `afty-test-${token}:` }, ...options.config };
  writeFileSync(path.join(dir, 'afty.config.json'), JSON.stringify(config, null, 2));
  // A temporary folder of its own: what afty leaves there when a test kills it (credential
  // folders) must not show up in another test file's diagnose (tools.credential-files).
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AFTY_SECRET: TEST_SECRET,
    CI: 'true',
    NO_COLOR: '1',
    TMPDIR: tmp,
  };
  delete env.AFTY_CONFIG;
  delete env.AFTY_CENTRAL_URL;
  delete env.AFTY_SERVER_URL;
  delete env.AFTY_REDIS_URL;

  return {
    dir,
    token,
    prefix,
    config,
    env,
    async context() {
      const loaded = await loadConfig({ cwd: dir, env });
      return new AftyContext(loaded);
    },
    async createCentral() {
      if (options.driver === 'postgres-schema') await createPostgresDatabase(`afty_app_${token}`);
      const ctx = await this.context();
      try {
        const { Registry } = await import('../../src/lib/registry/index.js');
        await Registry.createDatabase(ctx.config.central);
      } finally {
        await ctx.close();
      }
    },
    async cleanup() {
      // By what the config names, so a fleet mixing engines is cleaned on each.
      const urls = JSON.stringify(config);
      if (urls.includes('mysql://')) {
        const admin = await mariadbAdmin();
        try {
          const [databases] = (await admin.raw(
            'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ? OR schema_name = ?',
            [`${prefix.replace(/_/g, '\\_')}%`, `afty_central_${token}`],
          )) as [Array<{ name: string }>];
          for (const { name } of databases) await admin.raw('DROP DATABASE IF EXISTS ??', [name]);
          const [users] = (await admin.raw(
            'SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE ?',
            [`${prefix.replace(/_/g, '\\_')}%`],
          )) as [Array<{ user: string; host: string }>];
          for (const { user, host } of users) await admin.raw('DROP USER IF EXISTS ?@?', [user, host]);
        } finally {
          await admin.destroy();
        }
      }
      if (urls.includes('postgres://')) {
        await dropPostgresLeftovers(prefix, [`afty_central_${token}`, `afty_app_${token}`]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function createPostgresDatabase(name: string): Promise<void> {
  const admin = await postgresAdmin();
  try {
    const exists = (await admin.raw('SELECT 1 FROM pg_database WHERE datname = ?', [name])) as {
      rows: unknown[];
    };
    if (!exists.rows.length) await admin.raw(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.destroy();
  }
}

/** Drops the databases (the named ones and any starting with `prefix`) and roles a PostgreSQL project made. */
async function dropPostgresLeftovers(prefix: string, databases: string[]): Promise<void> {
  const admin = await postgresAdmin();
  const like = `${prefix.replace(/_/g, '\\_')}%`;
  try {
    const found = (await admin.raw(
      'SELECT datname AS name FROM pg_database WHERE datname LIKE ? OR datname = ANY(?)',
      [like, databases],
    )) as { rows: Array<{ name: string }> };
    for (const { name } of found.rows) await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const roles = (await admin.raw('SELECT rolname AS name FROM pg_roles WHERE rolname LIKE ?', [like])) as {
      rows: Array<{ name: string }>;
    };
    for (const { name } of roles.rows) {
      await admin.raw(`DROP OWNED BY "${name}"; DROP ROLE IF EXISTS "${name}"`);
    }
  } finally {
    await admin.destroy();
  }
}

/**
 * A MariaDB project whose registry (database `afty`) and tenant server are a private mariadbd
 * (test/support/private-servers.ts), for fault tests that must not touch the shared server.
 */
export async function createPrivateServerProject(
  server: { url: string; sql(statement: string): Promise<string> },
  config: Record<string, unknown> = {},
): Promise<TestProject> {
  await server.sql('CREATE DATABASE IF NOT EXISTS afty');
  return createProject({
    driver: 'mariadb',
    config: { central: `${server.url}/afty`, servers: { default: server.url }, ...config },
  });
}
