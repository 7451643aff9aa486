import type { Knex } from 'knex';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseLocation } from '../config/urls.js';

/** knex's default logger writes to the console, which breaks JSON and listr output. */
const silentLog = { warn() {}, error() {}, deprecate() {}, debug() {} };

export interface KnexOptions {
  poolMax?: number;
  /** mysql2 connect timeout in ms; keeps a dead server from hanging a command. */
  connectTimeoutMs?: number;
  /** Allow several statements per query (restores and snapshots load SQL files). */
  multipleStatements?: boolean;
}

export async function createKnex(location: DatabaseLocation, options: KnexOptions = {}): Promise<Knex> {
  const { default: knex } = await import('knex');
  if (location.driver === 'sqlite') {
    mkdirSync(path.dirname(location.filename), { recursive: true });
    return knex({
      client: 'better-sqlite3',
      connection: { filename: location.filename },
      useNullAsDefault: true,
      pool: {
        min: 0,
        max: 1,
        afterCreate(
          connection: { pragma(sql: string): unknown },
          done: (error: Error | null, connection: unknown) => void,
        ) {
          // WAL lets readers (list/show) work while a writer holds the database; foreign keys as in MySQL.
          connection.pragma('journal_mode = WAL');
          connection.pragma('foreign_keys = ON');
          connection.pragma('busy_timeout = 5000');
          done(null, connection);
        },
      },
      log: silentLog,
    });
  }
  return knex({
    client: 'mysql2',
    connection: {
      ...location.connection,
      charset: 'utf8mb4',
      connectTimeout: options.connectTimeoutMs ?? 5000,
      multipleStatements: options.multipleStatements ?? false,
      supportBigNumbers: true,
      dateStrings: true,
    },
    pool: { min: 0, max: options.poolMax ?? 1 },
    acquireConnectionTimeout: (options.connectTimeoutMs ?? 5000) + 1000,
    log: silentLog,
  });
}

/** Opens a knex on `location`, runs `use`, and always destroys it (one short-lived connection). */
export async function withKnex<T>(
  location: DatabaseLocation,
  use: (db: Knex) => Promise<T>,
  options: KnexOptions = {},
): Promise<T> {
  const db = await createKnex(location, options);
  try {
    return await use(db);
  } finally {
    await db.destroy();
  }
}

/**
 * The driver's own message without the SQL text: knex prefixes errors with the statement and its
 * bound values, which can include passwords.
 */
export function driverMessage(error: unknown): string {
  if (error && typeof error === 'object') {
    const { sqlMessage, code, message } = error as { sqlMessage?: string; code?: string; message?: string };
    if (sqlMessage) return sqlMessage;
    if (message && message.includes(' - ')) return message.slice(message.lastIndexOf(' - ') + 3);
    if (message) return message;
    if (code) return code;
  }
  return String(error);
}
