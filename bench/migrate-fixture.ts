// Shared fixture of the migrate-* and provision benchmarks (run on its own, it only writes the
// 12 migrations to bench/.work/migrations for inspection): a MariaDB project — or PostgreSQL,
// when `postgres` is among the bench's arguments — with N tenants (each with its own user, as in
// production) and a 12-migration schema with FKs and indexes.
import { execa } from 'execa';
import knex, { type Knex } from 'knex';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pLimit from 'p-limit';
import { loadConfig } from '../src/lib/config/index.js';
import { AftyContext } from '../src/lib/context.js';
import { Registry } from '../src/lib/registry/index.js';
import { createTenant } from '../src/lib/tenants/index.js';
import { BENCH_DIR, BIN, ROOT } from './_util.js';

export const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root' };
export const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres' };
/** The engine the bench runs on: `npm run bench -- migrate-fleet postgres` for PostgreSQL. */
export const ENGINE: 'mysql' | 'postgres' = process.argv.includes('postgres') ? 'postgres' : 'mysql';
/** The bench's numeric argument (repetitions), wherever the engine name is. */
export const numericArgument = (fallback: number) =>
  Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? fallback);
/** The knex client and root connection of ENGINE, for plain scripts and knexfiles. */
export const ROOT_CLIENT =
  ENGINE === 'postgres'
    ? { client: 'pg', connection: { ...POSTGRES, database: 'postgres' } }
    : { client: 'mysql2', connection: MARIADB };
const SECRET = 'bench-secret-0123456789abcdef';

const table = (name: string, body: string) => `module.exports = {
  async up(knex) {
    await knex.schema.createTable('${name}', (t) => {
${body}
    });
  },
  async down(knex) {
    await knex.schema.dropTable('${name}');
  },
};
`;
const alter = (name: string, up: string, down: string) => `module.exports = {
  async up(knex) {
    await knex.schema.alterTable('${name}', (t) => {
${up}
    });
  },
  async down(knex) {
    await knex.schema.alterTable('${name}', (t) => {
${down}
    });
  },
};
`;

/** Twelve CommonJS migrations (so knex's own CLI loads them too), with FKs and indexes. */
export const MIGRATIONS: Record<string, string> = {
  '001_accounts.cjs': table(
    'accounts',
    `      t.increments('id');\n      t.string('name', 120).notNullable().index();\n      t.string('email', 191).notNullable().unique();\n      t.timestamps(true, true);`,
  ),
  '002_users.cjs': table(
    'users',
    `      t.increments('id');\n      t.integer('account_id').unsigned().notNullable().references('id').inTable('accounts').onDelete('CASCADE');\n      t.string('email', 191).notNullable().unique();\n      t.string('name', 120).notNullable();\n      t.index(['account_id', 'name']);`,
  ),
  '003_projects.cjs': table(
    'projects',
    `      t.increments('id');\n      t.integer('account_id').unsigned().notNullable().references('id').inTable('accounts').onDelete('CASCADE');\n      t.integer('owner_id').unsigned().references('id').inTable('users').onDelete('SET NULL');\n      t.string('title', 200).notNullable();\n      t.index(['account_id', 'title']);`,
  ),
  '004_tasks.cjs': table(
    'tasks',
    `      t.increments('id');\n      t.integer('project_id').unsigned().notNullable().references('id').inTable('projects').onDelete('CASCADE');\n      t.integer('assignee_id').unsigned().references('id').inTable('users').onDelete('SET NULL');\n      t.string('title', 200).notNullable();\n      t.boolean('done').notNullable().defaultTo(false);\n      t.index(['project_id', 'done']);`,
  ),
  '005_comments.cjs': table(
    'comments',
    `      t.increments('id');\n      t.integer('task_id').unsigned().notNullable().references('id').inTable('tasks').onDelete('CASCADE');\n      t.integer('author_id').unsigned().references('id').inTable('users').onDelete('SET NULL');\n      t.text('body').notNullable();\n      t.timestamp('created_at').notNullable().defaultTo(knex.fn.now());`,
  ),
  '006_tags.cjs': table(
    'tags',
    `      t.increments('id');\n      t.string('label', 60).notNullable().unique();`,
  ),
  '007_task_tags.cjs': table(
    'task_tags',
    `      t.integer('task_id').unsigned().notNullable().references('id').inTable('tasks').onDelete('CASCADE');\n      t.integer('tag_id').unsigned().notNullable().references('id').inTable('tags').onDelete('CASCADE');\n      t.primary(['task_id', 'tag_id']);`,
  ),
  '008_users_last_login.cjs': alter(
    'users',
    `      t.timestamp('last_login_at').nullable().index();`,
    `      t.dropIndex(['last_login_at']);\n      t.dropColumn('last_login_at');`,
  ),
  '009_invoices.cjs': table(
    'invoices',
    `      t.increments('id');\n      t.integer('account_id').unsigned().notNullable().references('id').inTable('accounts').onDelete('CASCADE');\n      t.string('status', 20).notNullable().defaultTo('draft');\n      t.date('due_on');\n      t.index(['status', 'due_on']);`,
  ),
  '010_invoice_lines.cjs': table(
    'invoice_lines',
    `      t.increments('id');\n      t.integer('invoice_id').unsigned().notNullable().references('id').inTable('invoices').onDelete('CASCADE');\n      t.string('description', 200).notNullable();\n      t.decimal('amount', 12, 2).notNullable();`,
  ),
  '011_tasks_priority.cjs': alter(
    'tasks',
    `      t.integer('priority').notNullable().defaultTo(0).index();`,
    `      t.dropIndex(['priority']);\n      t.dropColumn('priority');`,
  ),
  '012_audit_log.cjs': table(
    'audit_log',
    `      t.bigIncrements('id');\n      t.string('action', 60).notNullable();\n      t.string('subject', 120).notNullable();\n      t.timestamp('at').notNullable().defaultTo(knex.fn.now());\n      t.index(['subject', 'at']);`,
  ),
};

export interface BenchProject {
  dir: string;
  prefix: string;
  migrationsDir: string;
  env: NodeJS.ProcessEnv;
  ids: string[];
  databases: string[];
  context(): Promise<AftyContext>;
  /** Drops the tenants' databases and users and the central registry (the shared server stays lean). */
  cleanup(): Promise<void>;
}

export function rootKnex(): Knex {
  return ENGINE === 'postgres'
    ? knex({ ...ROOT_CLIENT, pool: { min: 0, max: 8 } })
    : knex({
        client: 'mysql2',
        connection: { ...MARIADB, multipleStatements: true },
        pool: { min: 0, max: 8 },
      });
}

/** Drops what an earlier run of this bench left (databases, users, central registry). */
async function dropLeftovers(admin: Knex, prefix: string, central: string): Promise<void> {
  const like = `${prefix.replace(/_/g, '\\_')}%`;
  if (ENGINE === 'postgres') {
    const { rows } = (await admin.raw(
      'SELECT datname AS name FROM pg_database WHERE datname LIKE ? OR datname = ?',
      [like, central],
    )) as { rows: Array<{ name: string }> };
    const limit = pLimit(8);
    await Promise.all(
      rows.map(({ name }) => limit(() => admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))),
    );
    const roles = (await admin.raw('SELECT rolname AS name FROM pg_roles WHERE rolname LIKE ?', [like])) as {
      rows: Array<{ name: string }>;
    };
    for (const { name } of roles.rows) await admin.raw(`DROP ROLE IF EXISTS "${name}"`);
    return;
  }
  const [databases] = (await admin.raw(
    'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ?',
    [like],
  )) as [Array<{ name: string }>];
  const limit = pLimit(8);
  await Promise.all(
    databases.map(({ name }) => limit(() => admin.raw('DROP DATABASE IF EXISTS ??', [name]))),
  );
  const [users] = (await admin.raw('SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE ?', [
    like,
  ])) as [Array<{ user: string; host: string }>];
  await Promise.all(
    users.map(({ user, host }) => limit(() => admin.raw('DROP USER IF EXISTS ?@?', [user, host]))),
  );
  await admin.raw('DROP DATABASE IF EXISTS ??', [central]);
}

/**
 * A fresh bench project under bench/.work/NAME with `count` MariaDB tenants (empty databases,
 * own users) and the 12 migrations.
 */
export async function prepareProject(name: string, count: number): Promise<BenchProject> {
  const dir = path.join(BENCH_DIR, '.work', name);
  const prefix = `bench_${name.replace(/[^a-z]/g, '').slice(0, 8)}_`;
  const central = `afty_bench_${name.replace(/[^a-z]/g, '')}`;
  rmSync(dir, { recursive: true, force: true });
  const migrationsDir = path.join(dir, 'migrations');
  mkdirSync(migrationsDir, { recursive: true });
  for (const [file, source] of Object.entries(MIGRATIONS))
    writeFileSync(path.join(migrationsDir, file), source);
  writeFileSync(
    path.join(dir, 'afty.config.json'),
    JSON.stringify({
      central:
        ENGINE === 'postgres'
          ? `postgres://postgres@127.0.0.1:5432/${central}`
          : `mysql://root@127.0.0.1:3306/${central}`,
      servers: {
        default: ENGINE === 'postgres' ? 'postgres://postgres@127.0.0.1:5432' : 'mysql://root@127.0.0.1:3306',
      },
      tenancy: { databasePrefix: prefix, tenantUsers: true },
      migrations: { directory: 'migrations', snapshot: 'schema.sql' },
    }),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, AFTY_SECRET: SECRET, CI: 'true', NO_COLOR: '1' };
  const cleanup = async () => {
    const admin = rootKnex();
    try {
      await dropLeftovers(admin, prefix, central);
    } finally {
      await admin.destroy();
    }
  };
  await cleanup(); // what an interrupted earlier run left
  const context = async () => new AftyContext(await loadConfig({ cwd: dir, env }));
  const ctx = await context();
  const ids = Array.from({ length: count }, (_, index) => `t${String(index + 1).padStart(4, '0')}`);
  try {
    await Registry.createDatabase(ctx.config.central);
    const limit = pLimit(8);
    await Promise.all(ids.map((id) => limit(() => createTenant(ctx, { id }))));
  } finally {
    await ctx.close();
  }
  return {
    dir,
    prefix,
    migrationsDir,
    env,
    ids,
    databases: ids.map((id) => `${prefix}${id}`),
    context,
    cleanup,
  };
}

/**
 * Empties every tenant database again (DROP + CREATE keeps the tenant users' grants; on
 * PostgreSQL the new database is handed back to the tenant's role, named like it).
 */
export async function resetDatabases(databases: string[]): Promise<void> {
  const admin = rootKnex();
  try {
    const limit = pLimit(8);
    const reset = (database: string) =>
      ENGINE === 'postgres'
        ? (async () => {
            await admin.raw(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
            await admin.raw(
              `CREATE DATABASE "${database}" TEMPLATE template0 ENCODING 'UTF8' OWNER "${database}"`,
            );
            await admin.raw(`REVOKE ALL ON DATABASE "${database}" FROM PUBLIC`);
          })()
        : admin.raw('DROP DATABASE IF EXISTS ??; CREATE DATABASE ?? CHARACTER SET utf8mb4', [
            database,
            database,
          ]);
    await Promise.all(databases.map((database) => limit(() => reset(database))));
  } finally {
    await admin.destroy();
  }
}

/** Wall-clock milliseconds of a command (stdout discarded, stderr kept for failures). */
export async function timeCommand(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; inputFile?: string },
): Promise<number> {
  const started = performance.now();
  const result = await execa(file, args, {
    ...options,
    stdout: 'ignore',
    reject: false,
  });
  const elapsed = performance.now() - started;
  if (result.exitCode !== 0)
    throw new Error(
      `${file} ${args.join(' ')} exited ${result.exitCode}: ${String(result.stderr).slice(-500)}`,
    );
  return elapsed;
}

/**
 * Writes a baseline script: `concurrency` workers take the next database from the JSON list in
 * argv[2], open a one-connection knex as root, run `body` (JS using `db`), and destroy it.
 */
export function writePlainScript(file: string, concurrency: number, body: string, prelude = ''): void {
  writeFileSync(
    file,
    `const knex = require(${JSON.stringify(path.join(ROOT, 'node_modules/knex'))});
const databases = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
${prelude}
let next = 0;
async function worker() {
  while (next < databases.length) {
    const database = databases[next++];
    const db = knex({ client: ${JSON.stringify(ROOT_CLIENT.client)}, connection: { ...${JSON.stringify(ROOT_CLIENT.connection)}, database }, pool: { min: 0, max: 1 } });
    try {
      ${body}
    } finally {
      await db.destroy();
    }
  }
}
Promise.all(Array.from({ length: ${concurrency} }, worker)).catch((error) => { console.error(error); process.exit(1); });
`,
  );
}

export const runAfty = (project: BenchProject, args: string[]) =>
  timeCommand(process.execPath, [BIN, ...args], { cwd: project.dir, env: project.env });

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = path.join(BENCH_DIR, '.work', 'migrations');
  mkdirSync(dir, { recursive: true });
  for (const [file, source] of Object.entries(MIGRATIONS)) writeFileSync(path.join(dir, file), source);
  console.log(`wrote ${Object.keys(MIGRATIONS).length} migrations to ${dir}`);
}
