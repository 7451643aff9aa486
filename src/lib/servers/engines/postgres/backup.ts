import type { Knex } from 'knex';
import { setTimeout as delay } from 'node:timers/promises';
import { openArchive, writeArchiveStream, type BackupEntry } from '../../../backup/archive.js';
import { withDatabase, type BackupDriver, type DumpResult, type SwapHooks } from '../../../backup/driver.js';
import { appliedMigrations, databaseVersion, describeTables } from '../../../backup/inspect.js';
import { RESTORE_SCRATCH_MARK, SAFETY_MARK, VERIFY_SCRATCH_MARK } from '../../../backup/naming.js';
import { findTool } from '../../../backup/tools.js';
import { startChild } from '../../../children.js';
import { InputError, OperationError, classifyDriverError, driverMessage } from '../../../errors.js';
import { stepMarker } from '../../../step-marker.js';
import { runSteps } from '../../../tenants/saga.js';
import type { NetworkLocation } from '../../engine.js';
import { withKnex } from '../../knex.js';
import { POSTGRES_TOOLS, pgToolError, toolWatch, withPgEnvironment } from './client-tools.js';
import type { PostgresServer } from './server.js';
import { MAINTENANCE_DATABASE, quoteIdentifier as q } from './url.js';

/** PostgreSQL truncates longer identifiers (NAMEDATALEN - 1), which could make two names one. */
const MAX_IDENTIFIER_BYTES = 63;

/** What recovery needs besides the names: the swap's kind and the owner it gave the restored copy. */
interface PostgresSwapPlan {
  isolation: 'database' | 'schema';
  owner: string | null;
}

const rowsOf = async <T>(db: Knex, sql: string, bindings: Knex.RawBinding[] = []) =>
  ((await db.raw(sql, bindings)) as { rows: T[] }).rows;

function assertIdentifier(name: string): void {
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new InputError(`name ${name} would be longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes`, {
      hint: 'tenants with very long database names cannot be restored in place; use a shorter tenancy.databasePrefix',
    });
  }
}

/** The tenant database (or schema) a scratch is named after: `<database><mark><hex>` (naming.ts). */
function tenantOfScratch(scratch: string): string {
  for (const mark of [RESTORE_SCRATCH_MARK, VERIFY_SCRATCH_MARK]) {
    const at = scratch.lastIndexOf(mark);
    if (at > 0) return scratch.slice(0, at);
  }
  return scratch;
}

/** A pg_dump pattern that matches exactly `name`: inside double quotes nothing is a wildcard. */
function exactPattern(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * pg_restore's --dbname as a conninfo string: a bare name holding "=" would be read as one, so
 * the name is always given quoted. Host, user and password still come from the environment.
 */
function dbnameArgument(database: string): string {
  return `--dbname=dbname='${database.replace(/[\\']/g, (char) => `\\${char}`)}'`;
}

/** A failure from a tool's stdin feed that only echoes the tool's own death (its stdin closed). */
function brokenPipe(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}

export function postgresBackupDriver(server: PostgresServer): BackupDriver {
  const schemaMode = server.isolation === 'schema';
  const locationOf = (database: string) => server.tenantLocation(database);
  const adminLogin = server.tenantLocation(MAINTENANCE_DATABASE);
  /** The database the schemas live in (schema isolation): every location of the server names it. */
  const sharedDatabase = () => adminLogin.connection.database!;
  const describe = (database: string) =>
    schemaMode ? `schema ${database} of database ${sharedDatabase()}` : `database ${database}`;
  /** The admin login on `database` itself (no schema). */
  const locationIn = (database: string): NetworkLocation & { source: string } => {
    const location = locationOf(database);
    return { ...location, schema: undefined, connection: { ...location.connection, database } };
  };

  /** Admin SQL in `database`; failures name what was done (exit 1) or the server (exit 3). */
  async function adminIn<T>(database: string, what: string, run: (db: Knex) => Promise<T>): Promise<T> {
    try {
      return await withKnex(locationIn(database), run, { connectTimeoutMs: 10_000 });
    } catch (error) {
      throw sqlFailure(error, what);
    }
  }
  /** Admin SQL on the maintenance database (renames and drops cannot run inside their database). */
  const admin = <T>(what: string, run: (db: Knex) => Promise<T>) => adminIn(MAINTENANCE_DATABASE, what, run);

  function sqlFailure(error: unknown, what: string): Error {
    const classified = classifyDriverError(error, {
      target: `server "${server.name}" (${server.description}), ${what}`,
      credentials: adminLogin.source,
    });
    return (
      classified ??
      new OperationError(`${what} failed on server "${server.name}": ${driverMessage(error)}`, {
        cause: error,
      })
    );
  }

  /** The role owning the database or schema, or null when it does not exist. */
  async function ownerOf(database: string): Promise<string | null> {
    const sql = schemaMode
      ? 'SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = ?'
      : 'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ?';
    const [row] = await adminIn(
      schemaMode ? sharedDatabase() : MAINTENANCE_DATABASE,
      `reading the owner of ${describe(database)}`,
      (db) => rowsOf<{ owner: string }>(db, sql, [database]),
    );
    return row?.owner ?? null;
  }

  /** Which of `names` exist as databases (database isolation) or schemas (schema isolation). */
  async function existing(names: string[]): Promise<Set<string>> {
    const found = await Promise.all(names.map(async (name) => [name, await server.databaseExists(name)]));
    return new Set(found.filter(([, exists]) => exists).map(([name]) => name as string));
  }

  /**
   * ALTER DATABASE … RENAME refuses while anyone is connected, so the other sessions (an
   * application's pool) are ended first; one that reconnects in between makes it try again.
   */
  async function renameDatabase(from: string, to: string): Promise<void> {
    await admin(`renaming database ${from} to ${to}`, async (db) => {
      for (let attempt = 1; ; attempt += 1) {
        await db.raw(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()',
          [from],
        );
        try {
          await db.raw(`ALTER DATABASE ${q(from)} RENAME TO ${q(to)}`);
          return;
        } catch (error) {
          // 55006 object_in_use: a session came back between the two statements.
          if ((error as { code?: string }).code !== '55006' || attempt === 5) throw error;
          await delay(100 * attempt);
        }
      }
    });
  }

  /**
   * Feeds the archive to pg_restore into the database `location` names. `role`: pg_restore runs
   * SET ROLE to it, so every object it creates belongs to that role (as migrations made them).
   */
  async function restoreInto(entry: BackupEntry, location: NetworkLocation, role: string | null) {
    const tool = await findTool(POSTGRES_TOOLS.load, POSTGRES_TOOLS.installHint);
    const { pipeline } = await import('node:stream/promises');
    const database = location.connection.database!;
    await withPgEnvironment(location, async (env) => {
      const { child, progress, killedBecause } = await startChild(
        tool,
        [
          '--no-owner',
          '--no-privileges',
          // All or nothing, and the first error stops it (rather than a half-restored scratch).
          '--single-transaction',
          '--no-password',
          ...(role ? [`--role=${role}`] : []),
          dbnameArgument(database),
        ],
        { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', env, extendEnv: false },
        toolWatch(tool, location),
      );
      const [feeding, loading] = await Promise.allSettled([
        (async () => pipeline(await openArchive(entry), progress(), child.stdin!))(),
        child,
      ]);
      const killed = killedBecause();
      if (killed) throw killed;
      // A damaged archive explains pg_restore's failure, unless the feed only broke because it died.
      if (feeding.status === 'rejected' && !(loading.status === 'rejected' && brokenPipe(feeding.reason))) {
        throw new OperationError(`cannot read archive ${entry.path}: ${(feeding.reason as Error).message}`, {
          cause: feeding.reason,
        });
      }
      if (loading.status === 'rejected') throw pgToolError(tool, loading.reason, database, location.source);
    });
  }

  /**
   * Copies `schema` of the database `from` into the database `to` (which must not have it):
   * pg_dump piped into pg_restore, as the admin, keeping each object's owner.
   */
  async function copySchema(schema: string, from: NetworkLocation, to: NetworkLocation): Promise<void> {
    const dumpTool = await findTool(POSTGRES_TOOLS.dump, POSTGRES_TOOLS.installHint);
    const loadTool = await findTool(POSTGRES_TOOLS.load, POSTGRES_TOOLS.installHint);
    await withPgEnvironment(from, (dumpEnv) =>
      withPgEnvironment(to, async (loadEnv) => {
        const dump = await startChild(
          dumpTool,
          ['--format=custom', '--compress=0', `--schema=${exactPattern(schema)}`, '--no-password'],
          {
            stdin: 'ignore',
            stdout: 'pipe',
            stderr: 'pipe',
            buffer: { stdout: false, stderr: true },
            env: dumpEnv,
            extendEnv: false,
          },
          toolWatch(dumpTool, from),
        );
        const load = await startChild(
          loadTool,
          [
            '--single-transaction',
            '--no-privileges',
            '--no-password',
            dbnameArgument(to.connection.database!),
          ],
          { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', env: loadEnv, extendEnv: false },
          toolWatch(loadTool, to),
        );
        const { pipeline } = await import('node:stream/promises');
        // A broken pipe shows in the exit of one of the two tools, which say why.
        const piping = pipeline(dump.child.stdout!, load.progress(), load.child.stdin!).catch(() => {});
        const [dumping, loading] = await Promise.allSettled([dump.child, load.child, piping]);
        const killed = dump.killedBecause() ?? load.killedBecause();
        if (killed) throw killed;
        if (dumping.status === 'rejected') {
          const stderr = String((dumping.reason as { stderr?: unknown }).stderr);
          // pg_dump failing only to write into a pg_restore that died: pg_restore's error is the cause.
          if (!(loading.status === 'rejected' && /broken pipe|could not write/i.test(stderr)))
            throw pgToolError(dumpTool, dumping.reason, from.connection.database!, from.source);
        }
        if (loading.status === 'rejected')
          throw pgToolError(loadTool, loading.reason, to.connection.database!, to.source);
      }),
    );
  }

  /**
   * Schema isolation: the archive holds the tenant's schema under its name at dump time, which
   * the live tenant still uses, and pg_restore cannot rename. Rewriting names in the SQL text is
   * unsafe (data and function bodies contain them too), so the archive is restored into a
   * temporary database of its own, where its schema is renamed to the scratch's name by
   * ALTER SCHEMA, then copied into the shared database. Costs a second pass; nothing is guessed.
   */
  async function loadSchema(entry: BackupEntry, scratch: string, owner: string | null): Promise<void> {
    const staging = scratch;
    await admin(`creating the staging database ${staging}`, async (db) => {
      await db.raw(`CREATE DATABASE ${q(staging)} TEMPLATE template0 ENCODING 'UTF8'`);
      await db.raw(`REVOKE ALL ON DATABASE ${q(staging)} FROM PUBLIC`);
      // The owner may create the schema there when pg_restore runs as it.
      if (owner) await db.raw(`ALTER DATABASE ${q(staging)} OWNER TO ${q(owner)}`);
    });
    try {
      await restoreInto(entry, locationIn(staging), owner);
      await adminIn(staging, `renaming schema ${entry.manifest.database} in database ${staging}`, (db) =>
        db.raw(`ALTER SCHEMA ${q(entry.manifest.database)} RENAME TO ${q(scratch)}`),
      );
      await copySchema(scratch, locationIn(staging), locationIn(sharedDatabase()));
    } finally {
      await dropStaging(staging);
    }
  }

  const dropStaging = (staging: string) =>
    admin(`dropping the staging database ${staging}`, (db) =>
      db.raw(`DROP DATABASE IF EXISTS ${q(staging)} WITH (FORCE)`),
    );

  /** Database isolation: both renames, each ending the other sessions first, with the new database set up as the old. */
  async function swapDatabases(
    database: string,
    scratch: string,
    safety: string,
    hooks: SwapHooks | undefined,
  ): Promise<void> {
    const owner = await ownerOf(database);
    if (owner === null)
      throw new OperationError(`database ${database} does not exist on server "${server.name}"`);
    await hooks?.journal?.({ isolation: 'database', owner } satisfies PostgresSwapPlan);
    await runSteps(
      [
        {
          // Only the scratch database, which is dropped if the swap goes back: nothing to undo.
          name: 'prepare restored database',
          run: () =>
            admin(`preparing database ${scratch}`, async (db) => {
              await db.raw(`ALTER DATABASE ${q(scratch)} OWNER TO ${q(owner)}`);
              await db.raw(`REVOKE ALL ON DATABASE ${q(scratch)} FROM PUBLIC`);
            }),
        },
        {
          name: 'set aside current database',
          run: () => renameDatabase(database, safety),
          undo: () => renameDatabase(safety, database),
        },
        {
          name: 'rename restored database',
          run: () => renameDatabase(scratch, database),
          undo: () => renameDatabase(database, scratch),
        },
      ],
      hooks,
    );
  }

  /** Schema isolation: both renames in one transaction (PostgreSQL DDL is transactional). */
  async function swapSchemas(
    database: string,
    scratch: string,
    safety: string,
    hooks: SwapHooks | undefined,
  ): Promise<void> {
    const owner = await ownerOf(database);
    if (owner === null)
      throw new OperationError(`${describe(database)} does not exist on server "${server.name}"`);
    await hooks?.journal?.({ isolation: 'schema', owner } satisfies PostgresSwapPlan);
    const renames = (pairs: Array<[string, string]>, marker?: string) =>
      withDatabase(server, database, (db) =>
        db.transaction(async (trx) => {
          for (const [from, to] of pairs) await trx.raw(`ALTER SCHEMA ${q(from)} RENAME TO ${q(to)}`);
          if (marker) await stepMarker(marker);
        }),
      ).catch((error: unknown) => {
        throw sqlFailure(error, `swapping ${describe(database)} with schema ${scratch}`);
      });
    await runSteps(
      [
        {
          name: 'prepare restored schema',
          run: () =>
            adminIn(sharedDatabase(), `preparing schema ${scratch}`, (db) =>
              db.raw(`ALTER SCHEMA ${q(scratch)} OWNER TO ${q(owner)}`),
            ),
        },
        {
          name: 'rename schemas',
          // A kill at the marker ends the connection, and PostgreSQL rolls both renames back.
          run: () =>
            renames(
              [
                [database, safety],
                [scratch, database],
              ],
              'rename schemas uncommitted',
            ),
          undo: () =>
            renames([
              [database, scratch],
              [safety, database],
            ]),
        },
      ],
      hooks,
    );
  }

  return {
    async dump(database, temporaryPath, compress): Promise<DumpResult> {
      const tool = await findTool(POSTGRES_TOOLS.dump, POSTGRES_TOOLS.installHint);
      const location = locationOf(database);
      const what = describe(database);
      // The facts and the dump read one snapshot: pg_dump --snapshot imports the one this
      // transaction exported, so the manifest lists exactly the tables the archive holds.
      const run = (db: Knex) =>
        db.transaction(
          async (trx) => {
            if (
              schemaMode &&
              (await rowsOf(trx, 'SELECT 1 FROM pg_namespace WHERE nspname = ?', [database])).length === 0
            ) {
              throw new OperationError(`${what} does not exist on server "${server.name}"`);
            }
            const [{ snapshot }] = (await rowsOf<{ snapshot: string }>(
              trx,
              'SELECT pg_export_snapshot() AS snapshot',
            )) as [{ snapshot: string }];
            const facts = {
              serverVersion: await databaseVersion(trx, 'postgres'),
              tables: await describeTables(trx, 'postgres', false),
              migrations: await appliedMigrations(trx),
            };
            const written = await withPgEnvironment(location, async (env) => {
              const { child, progress, killedBecause } = await startChild(
                tool,
                [
                  // The custom format pg_restore needs, left uncompressed: the archive layer
                  // gzips it once when compress is on (one pass, and gzip's CRC catches damage).
                  '--format=custom',
                  '--compress=0',
                  `--snapshot=${snapshot}`,
                  '--no-password',
                  ...(schemaMode ? [`--schema=${exactPattern(database)}`] : []),
                ],
                {
                  stdin: 'ignore',
                  stdout: 'pipe',
                  stderr: 'pipe',
                  buffer: { stdout: false, stderr: true },
                  env,
                  extendEnv: false,
                },
                toolWatch(tool, location),
              );
              const [writing, dumping] = await Promise.allSettled([
                writeArchiveStream(child.stdout!.pipe(progress()), temporaryPath, compress).catch(
                  (error: unknown) => {
                    child.kill();
                    throw error;
                  },
                ),
                child,
              ]);
              const killed = killedBecause();
              if (killed) throw killed;
              // A failed write (disk full) explains the dump's broken pipe, so it is reported first.
              if (writing.status === 'rejected') throw writing.reason;
              if (dumping.status === 'rejected') {
                throw pgToolError(
                  tool,
                  dumping.reason,
                  schemaMode ? `${sharedDatabase()} (schema ${database})` : database,
                  location.source,
                );
              }
              return writing.value;
            });
            return { written, tool: 'pg_dump', ...facts };
          },
          { isolationLevel: 'repeatable read' },
        );
      return withDatabase(server, database, run).catch((error: unknown) => {
        // 3D000 invalid_catalog_name: the tenant database is gone.
        if ((error as { code?: string }).code === '3D000') {
          throw new OperationError(`${what} does not exist on server "${server.name}"`, { cause: error });
        }
        throw sqlFailure(error, `reading ${what}`);
      });
    },

    async load(entry: BackupEntry, scratch: string) {
      assertIdentifier(scratch);
      // Restored objects belong to whoever owns the tenant's data now (its role), not the admin.
      const owner = await ownerOf(tenantOfScratch(scratch));
      if (schemaMode) {
        await loadSchema(entry, scratch, owner);
      } else {
        await server.createDatabase(scratch);
        if (owner) {
          await admin(`preparing database ${scratch}`, (db) =>
            db.raw(`ALTER DATABASE ${q(scratch)} OWNER TO ${q(owner)}`),
          );
        }
        await restoreInto(entry, locationOf(scratch), owner);
      }
      return withDatabase(server, scratch, (db) => describeTables(db, 'postgres', true));
    },

    async swap(database, scratch, safety, hooks) {
      assertIdentifier(safety);
      await (schemaMode ? swapSchemas : swapDatabases)(database, scratch, safety, hooks);
    },

    /**
     * Decided from which names exist. Schemas swap in one transaction: the scratch schema still
     * there means it rolled back. Databases rename one at a time: the tenant's name missing means
     * the kill came between the two renames, and the verified restored copy takes the name.
     */
    async recover(database, scratch, safety, plan) {
      const swap = plan as PostgresSwapPlan | undefined;
      const names = await existing([database, scratch, safety]);
      if (!names.has(database)) {
        if (names.has(scratch) && swap) {
          await renameDatabase(scratch, database);
          return 'finished';
        }
        if (names.has(safety)) {
          await renameDatabase(safety, database);
          return 'rolled back';
        }
        throw new OperationError(`neither ${describe(database)} nor its copies ${scratch}, ${safety} exist`, {
          hint: 'restore the tenant from a backup with afty backup restore',
        });
      }
      return names.has(safety) && !names.has(scratch) ? 'finished' : 'rolled back';
    },

    async drop(scratch) {
      await server.dropDatabase(scratch);
      // A schema-mode load killed half-way leaves its staging database, named like the scratch.
      if (schemaMode) await dropStaging(scratch);
    },

    safetyCopies: (database) => server.listDatabases(`${database}${SAFETY_MARK}`),
  };
}
