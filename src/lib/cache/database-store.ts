import type { Knex } from 'knex';
import { validateTenantKey } from '../validation/index.js';
import { engineForClient } from '../servers/engines/index.js';
import {
  globToRegExp,
  notAnInteger,
  validateIncrement,
  validateKey,
  validatePattern,
  validateTag,
  validateTtl,
} from './keyspace.js';
import { rememberValue } from './remember.js';
import type { CacheClearOptions, CacheSetOptions, TenantCache, TenantCacheUsage } from './types.js';

export const CACHE_TABLE = 'afty_cache';
export const CACHE_TAGS_TABLE = 'afty_cache_tags';
/** Rows per DELETE … IN (…) when clearing by pattern. */
const DELETE_BATCH = 500;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

interface CacheRow {
  cache_key: Buffer;
  value: Buffer;
  expires_at: number | string | null;
}

/**
 * A tenant's cache in its own database, for installations without Redis: `afty_cache` (key,
 * value, expiry) and `afty_cache_tags` (tag, key), created on first write. Keys and values are
 * stored as bytes, so comparisons are exact (MySQL's text collations would fold case and ignore
 * trailing spaces). Expired rows read as absent and are removed when touched or cleared.
 */
export class DatabaseTenantCache implements TenantCache {
  readonly store = 'database' as const;
  private tablesExist = false;

  constructor(
    private readonly db: Knex,
    readonly tenant: string,
  ) {
    validateTenantKey(tenant);
  }

  async get(key: string): Promise<string | null> {
    const bytes = Buffer.from(validateKey(key, this.tenant));
    if (!(await this.ready(false))) return null;
    const row = (await this.db<CacheRow>(CACHE_TABLE).where('cache_key', bytes).first()) as
      CacheRow | undefined;
    if (!row) return null;
    if (isExpired(row)) {
      await this.db(CACHE_TABLE).where('cache_key', bytes).andWhere('expires_at', '<=', Date.now()).delete();
      return null;
    }
    return Buffer.from(row.value).toString('utf8');
  }

  async set(key: string, value: string, options: CacheSetOptions = {}): Promise<void> {
    const bytes = Buffer.from(validateKey(key, this.tenant));
    const ttl = validateTtl(options.ttl, this.tenant);
    const tags = (options.tags ?? []).map((tag) => validateTag(tag, this.tenant));
    await this.ready(true);
    await this.db.transaction(async (trx) => {
      await trx(CACHE_TABLE)
        .insert({ cache_key: bytes, value: Buffer.from(value, 'utf8'), expires_at: expiry(ttl) })
        .onConflict('cache_key')
        .merge();
      await this.addTags(trx, bytes, tags);
    });
  }

  async delete(key: string): Promise<boolean> {
    const bytes = Buffer.from(validateKey(key, this.tenant));
    if (!(await this.ready(false))) return false;
    const live = await this.live(this.db(CACHE_TABLE).where('cache_key', bytes)).delete();
    if (live === 0) await this.db(CACHE_TABLE).where('cache_key', bytes).delete();
    return live > 0;
  }

  async remember(
    key: string,
    compute: () => string | Promise<string>,
    options: CacheSetOptions = {},
  ): Promise<string> {
    return rememberValue(this, key, compute, options);
  }

  async increment(key: string, by = 1): Promise<number> {
    const bytes = Buffer.from(validateKey(key, this.tenant));
    validateIncrement(by, this.tenant);
    await this.ready(true);
    return this.db.transaction(async (trx) => {
      // Insert-or-keep first, so the row exists and is locked for the read-modify-write below.
      await trx(CACHE_TABLE)
        .insert({ cache_key: bytes, value: Buffer.from('0'), expires_at: null })
        .onConflict('cache_key')
        .ignore();
      const row = (await trx<CacheRow>(CACHE_TABLE)
        .where('cache_key', bytes)
        .forUpdate()
        .first()) as CacheRow;
      const expired = isExpired(row);
      const text = expired ? '0' : Buffer.from(row.value).toString('utf8');
      if (!/^-?\d{1,19}$/.test(text)) throw notAnInteger(key, this.tenant);
      const next = BigInt(text) + BigInt(by);
      if (next > INT64_MAX || next < INT64_MIN) throw notAnInteger(key, this.tenant);
      await trx(CACHE_TABLE)
        .where('cache_key', bytes)
        .update({ value: Buffer.from(next.toString()), ...(expired ? { expires_at: null } : {}) });
      return Number(next);
    });
  }

  async tag(key: string, tags: string[]): Promise<void> {
    const bytes = Buffer.from(validateKey(key, this.tenant));
    const valid = tags.map((tag) => validateTag(tag, this.tenant));
    await this.ready(true);
    await this.addTags(this.db, bytes, valid);
  }

  async clearTag(tag: string): Promise<number> {
    const tagBytes = Buffer.from(validateTag(tag, this.tenant));
    if (!(await this.ready(false))) return 0;
    return this.db.transaction(async (trx) => {
      const members = () => trx(CACHE_TAGS_TABLE).select('cache_key').where('tag', tagBytes);
      const removed = await this.live(trx(CACHE_TABLE).whereIn('cache_key', members())).delete();
      await trx(CACHE_TABLE).whereIn('cache_key', members()).delete();
      await trx(CACHE_TAGS_TABLE).where('tag', tagBytes).delete();
      return removed;
    });
  }

  async countTag(tag: string): Promise<number> {
    const tagBytes = Buffer.from(validateTag(tag, this.tenant));
    if (!(await this.ready(false))) return 0;
    const members = this.db(CACHE_TAGS_TABLE).select('cache_key').where('tag', tagBytes);
    return countOf(await this.live(this.db(CACHE_TABLE).whereIn('cache_key', members)).count({ n: '*' }));
  }

  async clear(options: CacheClearOptions = {}): Promise<number> {
    if (options.pattern !== undefined) validatePattern(options.pattern);
    if (!(await this.ready(false))) return 0;
    if (options.pattern === undefined) {
      return this.db.transaction(async (trx) => {
        const removed = await this.live(trx(CACHE_TABLE)).delete();
        await trx(CACHE_TABLE).delete();
        await trx(CACHE_TAGS_TABLE).delete();
        return removed;
      });
    }
    const keys = await this.matchingKeys(options.pattern, true);
    let removed = 0;
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      removed += await this.live(this.db(CACHE_TABLE).whereIn('cache_key', batch)).delete();
      await this.db(CACHE_TABLE).whereIn('cache_key', batch).delete();
    }
    return removed;
  }

  async count(options: CacheClearOptions = {}): Promise<number> {
    if (options.pattern !== undefined) validatePattern(options.pattern);
    if (!(await this.ready(false))) return 0;
    if (options.pattern === undefined)
      return countOf(await this.live(this.db(CACHE_TABLE)).count({ n: '*' }));
    return (await this.matchingKeys(options.pattern, false)).length;
  }

  /** Live values, tags and bytes (keys + values) for `afty cache stats`; exact, never sampled. */
  async usage(): Promise<TenantCacheUsage> {
    const empty = { tenant: this.tenant, keys: 0, tags: 0, bytes: 0, sampled: 0, estimated: false };
    if (!(await this.ready(false))) return empty;
    const [values] = (await this.live(this.db(CACHE_TABLE)).select(
      this.db.raw('COUNT(*) AS n'),
      this.db.raw('COALESCE(SUM(LENGTH(cache_key) + LENGTH(value)), 0) AS bytes'),
    )) as Array<{ n: number | string; bytes: number | string }>;
    const [tags] = (await this.db(CACHE_TAGS_TABLE).countDistinct({ n: 'tag' })) as Array<{
      n: number | string;
    }>;
    const keys = Number(values?.n ?? 0);
    return { ...empty, keys, tags: Number(tags?.n ?? 0), bytes: Number(values?.bytes ?? 0), sampled: keys };
  }

  /** Keys of live values (or of all rows, for deletion) whose name matches the glob. */
  private async matchingKeys(pattern: string, includeExpired: boolean): Promise<Buffer[]> {
    const matcher = globToRegExp(pattern);
    const query = this.db<CacheRow>(CACHE_TABLE).select('cache_key');
    const rows = (await (includeExpired ? query : this.live(query))) as Array<Pick<CacheRow, 'cache_key'>>;
    return rows.map((row) => Buffer.from(row.cache_key)).filter((key) => matcher.test(key.toString('utf8')));
  }

  private live<Q extends Knex.QueryBuilder>(query: Q): Q {
    return query.where((where) => where.whereNull('expires_at').orWhere('expires_at', '>', Date.now())) as Q;
  }

  private async addTags(db: Knex | Knex.Transaction, key: Buffer, tags: string[]): Promise<void> {
    if (tags.length === 0) return;
    await db(CACHE_TAGS_TABLE)
      .insert(tags.map((tag) => ({ tag: Buffer.from(tag), cache_key: key })))
      .onConflict(['tag', 'cache_key'])
      .ignore();
  }

  /**
   * Whether the tables exist, creating them when `create` is set. Reads and clears never create
   * them: inspecting a tenant that never cached anything must not change its database.
   */
  private async ready(create: boolean): Promise<boolean> {
    if (this.tablesExist) return true;
    // A schema builder accumulates statements: reusing one would replay earlier calls, so take a fresh one each time.
    const schema = () => this.db.schema;
    if ((await schema().hasTable(CACHE_TABLE)) && (await schema().hasTable(CACHE_TAGS_TABLE))) {
      this.tablesExist = true;
      return true;
    }
    if (!create) return false;
    const types = engineForClient(String(this.db.client.config.client))!.cacheColumnTypes;
    try {
      if (!(await schema().hasTable(CACHE_TABLE))) {
        await schema().createTable(CACHE_TABLE, (table) => {
          table.specificType('cache_key', types.key).primary();
          table.specificType('value', types.value).notNullable();
          table.bigInteger('expires_at').nullable().index();
        });
      }
      if (!(await schema().hasTable(CACHE_TAGS_TABLE))) {
        await schema().createTable(CACHE_TAGS_TABLE, (table) => {
          table.specificType('tag', types.tag).notNullable();
          table.specificType('cache_key', types.key).notNullable();
          table.primary(['tag', 'cache_key']);
        });
      }
    } catch (error) {
      // Another process may have created them at the same moment; anything else is real.
      if (!((await schema().hasTable(CACHE_TABLE)) && (await schema().hasTable(CACHE_TAGS_TABLE))))
        throw error;
    }
    this.tablesExist = true;
    return true;
  }
}

function expiry(ttl: number | undefined): number | null {
  return ttl === undefined ? null : Date.now() + ttl * 1000;
}

function isExpired(row: Pick<CacheRow, 'expires_at'>): boolean {
  return row.expires_at !== null && Number(row.expires_at) <= Date.now();
}

function countOf(rows: unknown): number {
  const [row] = rows as Array<{ n: number | string }>;
  return Number(row?.n ?? 0);
}
