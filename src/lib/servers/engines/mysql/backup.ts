import type { Knex } from 'knex';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openArchive, writeArchiveStream, type BackupEntry } from '../../../backup/archive.js';
import { withDatabase, type BackupDriver, type DumpResult } from '../../../backup/driver.js';
import { dumpContents } from '../../../backup/dump-contents.js';
import { appliedMigrations, databaseVersion, describeTables } from '../../../backup/inspect.js';
import { SAFETY_MARK } from '../../../backup/naming.js';
import { findTool } from '../../../backup/tools.js';
import { childEnvironment, withCredentialsFolder } from '../../../child-process.js';
import { startChild } from '../../../children.js';
import {
  LoginRefusedError,
  OperationError,
  ServiceError,
  classifyDriverError,
  driverMessage,
} from '../../../errors.js';
import { stepMarker } from '../../../step-marker.js';
import { runSteps } from '../../../tenants/saga.js';
import type { NetworkConnection } from '../../engine.js';
import { probeServer, serverKey } from '../../knex.js';
import type { MysqlServer } from './server.js';

/** Either tool works; MariaDB's names first. */
export const MYSQL_TOOLS = { dump: ['mariadb-dump', 'mysqldump'], load: ['mariadb', 'mysql'] };

export const CLIENT_PACKAGE_HINT =
  'install the Debian package mariadb-client (apt-get install mariadb-client)';

/** Option-file value: quoted, with the escapes the MySQL/MariaDB option parser understands. */
function optionValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * Runs `use` with a 0600 option file holding the connection, so the password reaches the client
 * tools without ever being in their argv (visible to every user through ps). The file lives in a
 * private 0700 folder that is removed on every exit path, signals included (see child-process.ts).
 */
async function withOptionFile<T>(
  connection: NetworkConnection,
  use: (file: string) => Promise<T>,
): Promise<T> {
  return withCredentialsFolder(async (directory) => {
    const file = path.join(directory, 'client.cnf');
    const lines = [
      '[client]',
      `host=${optionValue(connection.host)}`,
      `port=${connection.port}`,
      `user=${optionValue(connection.user)}`,
    ];
    if (connection.password) lines.push(`password=${optionValue(connection.password)}`);
    await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
    await stepMarker('option file');
    return use(file);
  });
}

/** A client tool's failure as one line; "can't connect" is a service problem (exit 3). */
function toolError(tool: string, error: unknown, database: string, source: string): Error {
  const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
  const detail =
    stderr
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ??
    (error as { shortMessage?: string }).shortMessage ??
    String(error);
  const message = `${path.basename(tool)} failed for database ${database}: ${detail}`;
  if (/access denied/i.test(detail)) {
    return new LoginRefusedError(message, { hint: `the password comes from ${source}`, cause: error });
  }
  if (/can't connect|unknown server host|too many connections/i.test(detail)) {
    return new ServiceError(message, {
      hint: 'check that the server is running and can take a connection',
      cause: error,
    });
  }
  return new OperationError(message, { cause: error });
}

/** A failure to read the database before dumping it: gone (exit 1) or unreachable (exit 3). */
function readFailure(error: unknown, database: string, server: MysqlServer): Error {
  const code = (error as { code?: string }).code;
  if (code === 'ER_BAD_DB_ERROR') {
    return new OperationError(`database ${database} does not exist on server "${server.name}"`, {
      cause: error,
    });
  }
  const classified = classifyDriverError(error, {
    target: `server "${server.name}" (${server.description}), reading database ${database}`,
    credentials: server.tenantLocation(database).source,
  });
  return (
    classified ??
    new OperationError(
      `cannot read database ${database} on server "${server.name}" (${server.description}): ${driverMessage(error)}`,
      { cause: error },
    )
  );
}

interface SchemaObject {
  name: string;
  kind: 'VIEW' | 'TRIGGER' | 'PROCEDURE' | 'FUNCTION';
  sql: string;
  sqlMode?: string;
}

/**
 * Views, triggers and routines of the database `db` is connected to, as CREATE statements.
 * RENAME TABLE cannot move these across databases, so a swap recreates them.
 */
async function readObjects(db: Knex): Promise<SchemaObject[]> {
  const objects: SchemaObject[] = [];
  const [views] = (await db.raw(
    'SELECT table_name AS name FROM information_schema.views WHERE table_schema = DATABASE() ORDER BY table_name',
  )) as [Array<{ name: string }>];
  for (const { name } of views) {
    const [rows] = (await db.raw('SHOW CREATE VIEW ??', [name])) as [Array<Record<string, string>>];
    objects.push({ name, kind: 'VIEW', sql: rows[0]!['Create View']! });
  }
  const [triggers] = (await db.raw(
    'SELECT trigger_name AS name FROM information_schema.triggers WHERE trigger_schema = DATABASE() ORDER BY action_order',
  )) as [Array<{ name: string }>];
  for (const { name } of triggers) {
    const [rows] = (await db.raw('SHOW CREATE TRIGGER ??', [name])) as [Array<Record<string, string>>];
    objects.push({
      name,
      kind: 'TRIGGER',
      sql: rows[0]!['SQL Original Statement']!,
      sqlMode: rows[0]!.sql_mode,
    });
  }
  const [routines] = (await db.raw(
    'SELECT routine_name AS name, routine_type AS type FROM information_schema.routines WHERE routine_schema = DATABASE() ORDER BY routine_name',
  )) as [Array<{ name: string; type: 'PROCEDURE' | 'FUNCTION' }>];
  for (const { name, type } of routines) {
    const [rows] = (await db.raw(`SHOW CREATE ${type} ??`, [name])) as [Array<Record<string, string>>];
    const sql = rows[0]![type === 'PROCEDURE' ? 'Create Procedure' : 'Create Function'];
    if (!sql) throw new OperationError(`cannot read the definition of ${type.toLowerCase()} ${name}`);
    objects.push({ name, kind: type, sql, sqlMode: rows[0]!.sql_mode });
  }
  return objects;
}

async function createObject(db: Knex, object: SchemaObject): Promise<void> {
  if (object.sqlMode !== undefined) await db.raw('SET SESSION sql_mode = ?', [object.sqlMode]);
  // No bindings: bodies may contain "?" that knex must not take for placeholders.
  await db.raw(object.sql);
}

/** Drops the objects; if one cannot be dropped, the ones already dropped are recreated. */
async function dropObjects(db: Knex, objects: SchemaObject[]): Promise<void> {
  const dropped: SchemaObject[] = [];
  try {
    for (const object of [...objects].reverse()) {
      await db.raw(`DROP ${object.kind} IF EXISTS ??`, [object.name]);
      dropped.unshift(object);
    }
  } catch (error) {
    await createObjects(db, dropped);
    throw error;
  }
}

/**
 * Creates objects read by readObjects in the database `db` is connected to: all or none. Views
 * may depend on other views, so failed ones are retried while each round makes progress.
 */
async function createObjects(db: Knex, objects: SchemaObject[]): Promise<void> {
  const created: SchemaObject[] = [];
  let pending = objects;
  while (pending.length > 0) {
    const failed: Array<{ object: SchemaObject; error: unknown }> = [];
    for (const object of pending) {
      try {
        await createObject(db, object);
        created.push(object);
      } catch (error) {
        failed.push({ object, error });
      }
    }
    if (failed.length === pending.length) {
      const { object, error } = failed[0]!;
      for (const done of created.reverse()) await db.raw(`DROP ${done.kind} IF EXISTS ??`, [done.name]);
      throw new OperationError(
        `cannot recreate ${object.kind.toLowerCase()} ${object.name}: ${driverMessage(error)}`,
        { cause: error },
      );
    }
    pending = failed.map((entry) => entry.object);
  }
}

/** Objects made idempotent for recovery: each is dropped if it exists, then all are created. */
async function replaceObjects(db: Knex, objects: SchemaObject[]): Promise<void> {
  for (const object of [...objects].reverse())
    await db.raw(`DROP ${object.kind} IF EXISTS ??`, [object.name]);
  await createObjects(db, objects);
}

type TableMove = { from: [string, string]; to: [string, string] };

/** What recovery of an interrupted swap needs; saved in the restore journal before the first change. */
interface SwapPlan {
  currentObjects: SchemaObject[];
  incomingObjects: SchemaObject[];
  moves: TableMove[];
}

async function tableExists(db: Knex, [schema, table]: [string, string]): Promise<boolean> {
  const [rows] = (await db.raw(
    'SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
    [schema, table],
  )) as [unknown[]];
  return rows.length > 0;
}

async function baseTables(db: Knex): Promise<string[]> {
  const [rows] = (await db.raw(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name",
  )) as [Array<{ name: string }>];
  return rows.map((row) => row.name);
}

/** One RENAME TABLE statement: atomic over every pair (all move or none do). */
async function renameTables(db: Knex, moves: TableMove[]) {
  if (moves.length === 0) return;
  const clause = moves.map(() => '??.?? TO ??.??').join(', ');
  await db.raw(
    `RENAME TABLE ${clause}`,
    moves.flatMap((move) => [...move.from, ...move.to]),
  );
}

export function mysqlBackupDriver(server: MysqlServer): BackupDriver {
  const locationOf = (database: string) => server.tenantLocation(database);
  const sourceOf = (database: string) => server.tenantLocation(database).source;

  return {
    async dump(database, temporaryPath, compress): Promise<DumpResult> {
      const tool = await findTool(MYSQL_TOOLS.dump, CLIENT_PACKAGE_HINT);
      const facts = await withDatabase(server, database, async (db) => ({
        serverVersion: await databaseVersion(db, 'mysql'),
        tables: await describeTables(db, 'mysql', false),
        migrations: await appliedMigrations(db),
      })).catch((error: unknown) => {
        throw readFailure(error, database, server);
      });
      const location = locationOf(database);
      const written = await withOptionFile(location.connection, async (optionFile) => {
        const { child, progress, killedBecause } = await startChild(
          tool,
          [
            // Must come first: the option file carries host, user and password.
            `--defaults-extra-file=${optionFile}`,
            '--single-transaction',
            '--routines',
            '--triggers',
            '--hex-blob',
            '--default-character-set=utf8mb4',
            database,
          ],
          {
            stdin: 'ignore',
            stdout: 'pipe',
            stderr: 'pipe',
            buffer: { stdout: false, stderr: true },
            env: childEnvironment(),
            extendEnv: false,
          },
          { what: path.basename(tool), server: serverKey(location), probe: () => probeServer(location) },
        );
        const contents = dumpContents();
        const [writing, dumping] = await Promise.allSettled([
          writeArchiveStream(
            child.stdout!.pipe(progress()).pipe(contents.stream),
            temporaryPath,
            compress,
          ).catch((error: unknown) => {
            child.kill();
            throw error;
          }),
          child,
        ]);
        const killed = killedBecause();
        if (killed) throw killed;
        // A failed write (disk full) explains the dump's broken pipe, so it is reported first.
        if (writing.status === 'rejected') throw writing.reason;
        if (dumping.status === 'rejected')
          throw toolError(tool, dumping.reason, database, sourceOf(database));
        const missing = facts.tables.filter((table) => !contents.created.has(`${table.type}:${table.name}`));
        if (missing.length > 0) {
          throw new OperationError(
            `${path.basename(tool)} exited 0 but its dump of database ${database} lacks ${missing.map((table) => `${table.type} ${table.name}`).join(', ')}; no backup was written`,
            {
              hint: 'the database changed while it was dumped (a table dropped or renamed): run the backup again',
            },
          );
        }
        return writing.value;
      });
      return { written, tool: path.basename(tool), ...facts };
    },

    async load(entry: BackupEntry, scratch: string) {
      const tool = await findTool(MYSQL_TOOLS.load, CLIENT_PACKAGE_HINT);
      const { pipeline } = await import('node:stream/promises');
      await server.createDatabase(scratch);
      const location = locationOf(scratch);
      await withOptionFile(location.connection, async (optionFile) => {
        const { child, progress, killedBecause } = await startChild(
          tool,
          [
            `--defaults-extra-file=${optionFile}`,
            '--default-character-set=utf8mb4',
            '--binary-mode',
            scratch,
          ],
          { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', env: childEnvironment(), extendEnv: false },
          { what: path.basename(tool), server: serverKey(location), probe: () => probeServer(location) },
        );
        const [feeding, loading] = await Promise.allSettled([
          (async () => pipeline(await openArchive(entry), progress(), child.stdin!))(),
          child,
        ]);
        const killed = killedBecause();
        if (killed) throw killed;
        if (loading.status === 'rejected') throw toolError(tool, loading.reason, scratch, sourceOf(scratch));
        if (feeding.status === 'rejected') {
          throw new OperationError(
            `cannot read archive ${entry.path}: ${(feeding.reason as Error).message}`,
            { cause: feeding.reason },
          );
        }
      });
      return withDatabase(server, scratch, (db) => describeTables(db, 'mysql', true));
    },

    async swap(database, scratch, safety, hooks) {
      await withDatabase(server, database, (current) =>
        withDatabase(server, scratch, (incoming) =>
          withDatabase(server, safety, async (kept) => {
            const currentObjects = await readObjects(current);
            const incomingObjects = await readObjects(incoming);
            const currentTables = await baseTables(current);
            const incomingTables = await baseTables(incoming);
            const moves: TableMove[] = [
              ...currentTables.map((table) => ({
                from: [database, table] as [string, string],
                to: [safety, table] as [string, string],
              })),
              ...incomingTables.map((table) => ({
                from: [scratch, table] as [string, string],
                to: [database, table] as [string, string],
              })),
            ];
            await hooks?.journal?.({ currentObjects, incomingObjects, moves } satisfies SwapPlan);
            await runSteps(
              [
                {
                  name: 'safety database',
                  run: () => server.createDatabase(safety),
                  undo: () => server.dropDatabase(safety),
                },
                {
                  name: 'detach views, triggers and routines',
                  run: () => dropObjects(current, currentObjects),
                  undo: () => createObjects(current, currentObjects),
                },
                {
                  // Only the scratch copy, which is dropped afterwards: nothing to undo.
                  name: 'detach incoming views, triggers and routines',
                  run: () => dropObjects(incoming, incomingObjects),
                },
                {
                  name: 'rename tables',
                  run: () => renameTables(current, moves),
                  // Reversed too: each table must leave the tenant database before its old one returns.
                  undo: () =>
                    renameTables(current, moves.map((move) => ({ from: move.to, to: move.from })).reverse()),
                },
                {
                  name: 'safety copy objects',
                  run: () => createObjects(kept, currentObjects),
                  undo: () => dropObjects(kept, currentObjects),
                },
                {
                  name: 'attach views, triggers and routines',
                  run: () => createObjects(current, incomingObjects),
                  undo: () => dropObjects(current, incomingObjects),
                },
              ],
              hooks,
            );
          }),
        ),
      );
    },

    /**
     * RENAME TABLE moves every table or none, so where the first moved table is tells which side
     * of it the kill came: before, the tenant gets its views, triggers and routines back and the
     * empty safety database goes; after, the safety copy and the tenant get theirs.
     */
    async recover(database, scratch, safety, plan) {
      const swap = plan as SwapPlan | undefined;
      if (!swap) {
        await server.dropDatabase(safety);
        return 'rolled back';
      }
      const moved = await withDatabase(server, database, async (db) =>
        swap.moves.length === 0 ? true : tableExists(db, swap.moves[0]!.to),
      );
      if (!moved) {
        await withDatabase(server, database, (db) => replaceObjects(db, swap.currentObjects));
        await server.dropDatabase(safety);
        return 'rolled back';
      }
      // The safety database exists: the swap creates it before any table moves.
      await withDatabase(server, safety, (db) => replaceObjects(db, swap.currentObjects));
      await withDatabase(server, database, (db) => replaceObjects(db, swap.incomingObjects));
      await server.dropDatabase(scratch);
      return 'finished';
    },

    drop: (scratch) => server.dropDatabase(scratch),

    safetyCopies: (database) => server.listDatabases(`${database}${SAFETY_MARK}`),
  };
}
