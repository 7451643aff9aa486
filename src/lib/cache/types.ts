export interface CacheSetOptions {
  /** Seconds until the value expires; omitted = no expiry. */
  ttl?: number;
  /** Tags to add the key to (see `clearTag`). */
  tags?: string[];
}

export interface CacheClearOptions {
  /** Only keys whose name matches this Redis glob (`user:*`); tags are left alone unless it matches them. */
  pattern?: string;
}

/**
 * One tenant's cache. The Redis store and the database store behave the same: values are UTF-8
 * strings, a key stays in a tag until that tag or the tenant is cleared (delete() does not untag),
 * and counts are of values removed (tag sets are not counted).
 */
export interface TenantCache {
  readonly tenant: string;
  readonly store: 'redis' | 'database';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: CacheSetOptions): Promise<void>;
  /** True when the key existed. */
  delete(key: string): Promise<boolean>;
  /** The cached value, else computes it once, stores it (with TTL / tags) and returns it. */
  remember(key: string, compute: () => string | Promise<string>, options?: CacheSetOptions): Promise<string>;
  /** Adds `by` (default 1) to an integer value, creating it from 0; keeps its TTL. */
  increment(key: string, by?: number): Promise<number>;
  /** Adds an existing or future key to tags. */
  tag(key: string, tags: string[]): Promise<void>;
  /** Removes every key in the tag, and the tag; returns the number of values removed. */
  clearTag(tag: string): Promise<number>;
  /** How many values `clearTag(tag)` would remove. */
  countTag(tag: string): Promise<number>;
  /** Removes the tenant's values (all, or those matching a pattern) and, for a full clear, its tags. */
  clear(options?: CacheClearOptions): Promise<number>;
  /** How many values `clear(options)` would remove. */
  count(options?: CacheClearOptions): Promise<number>;
}

/** What `afty cache stats` reports for a tenant. */
export interface TenantCacheUsage {
  tenant: string;
  keys: number;
  tags: number;
  /** Bytes: MEMORY USAGE on Redis (extrapolated when sampled), key + value bytes in the database store. */
  bytes: number;
  /** Keys measured; equal to keys + tags unless sampled. */
  sampled: number;
  estimated: boolean;
}
