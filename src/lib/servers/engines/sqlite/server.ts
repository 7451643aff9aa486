import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { OperationError } from '../../../errors.js';
import type { SqliteLocation } from '../../engine.js';
import { createKnex } from '../../knex.js';
import type { DatabaseServer, DatabaseStats } from '../../types.js';

const EXTENSION = '.sqlite';

/** Tenant databases as files `<directory>/<database>.sqlite`: the embedded default. */
export class SqliteServer implements DatabaseServer {
  readonly driver = 'sqlite' as const;
  readonly supportsUsers = false;
  readonly description: string;

  constructor(
    readonly name: string,
    private readonly directory: string,
  ) {
    this.description = `sqlite:${directory}`;
  }

  fileOf(database: string): string {
    return path.join(this.directory, `${database}${EXTENSION}`);
  }

  async ping(): Promise<{ version: string; latencyMs: number }> {
    const started = performance.now();
    mkdirSync(this.directory, { recursive: true });
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(':memory:');
    try {
      const row = db.prepare('select sqlite_version() as version').get() as { version: string };
      return { version: `SQLite ${row.version}`, latencyMs: performance.now() - started };
    } finally {
      db.close();
    }
  }

  async createDatabase(database: string): Promise<void> {
    const file = this.fileOf(database);
    if (existsSync(file)) throw new OperationError(`database ${database} already exists (${file})`);
    mkdirSync(this.directory, { recursive: true });
    const { default: Database } = await import('better-sqlite3');
    new Database(file).close();
  }

  async dropDatabase(database: string): Promise<void> {
    const file = this.fileOf(database);
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
  }

  async databaseExists(database: string): Promise<boolean> {
    return existsSync(this.fileOf(database));
  }

  async listDatabases(prefix: string): Promise<string[]> {
    if (!existsSync(this.directory)) return [];
    return readdirSync(this.directory)
      .filter((file) => file.startsWith(prefix) && file.endsWith(EXTENSION))
      .map((file) => file.slice(0, -EXTENSION.length))
      .sort();
  }

  async databaseStats(database: string): Promise<DatabaseStats> {
    const file = this.fileOf(database);
    if (!existsSync(file)) return { bytes: 0, tables: 0 };
    const db = await createKnex({ driver: 'sqlite', filename: file });
    try {
      const rows = (await db.raw(
        "SELECT COUNT(*) AS tables FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
      )) as Array<{ tables: number }>;
      const bytes = ['', '-wal'].reduce((sum, suffix) => {
        const part = `${file}${suffix}`;
        return sum + (existsSync(part) ? statSync(part).size : 0);
      }, 0);
      return { bytes, tables: Number(rows[0]!.tables) };
    } finally {
      await db.destroy();
    }
  }

  async createUser(): Promise<void> {
    throw new OperationError(`server "${this.name}" is SQLite, which has no database users`);
  }

  async dropUser(): Promise<void> {}

  async userExists(): Promise<boolean> {
    return false;
  }

  tenantLocation(database: string): SqliteLocation {
    return { driver: 'sqlite', filename: this.fileOf(database) };
  }

  async close(): Promise<void> {}
}
