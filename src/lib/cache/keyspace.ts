import { InputError, OperationError } from '../errors.js';
import { describeValue, validateTenantKey } from '../validation/index.js';

/**
 * The cache keyspace shared by afty and the applications (docs/cache.md, "Keyspace"):
 *
 *   <prefix>t:{<tenant>}:<key>          a tenant's value
 *   <prefix>t:{<tenant>}:tag:<tag>      a tag: a set of the tenant's key names
 *   <prefix>central:{domains}           domain → tenant id hash (built by `afty cache warm`)
 *   <prefix>central:tenant:{<tenant>}   a tenant's metadata hash (status, maintenance, database)
 *
 * The braces are Redis Cluster hash tags: all of a tenant's keys share one slot, so a tenant clear
 * walks one slot and MULTI/RENAME work across them. Central keys carry their own hash tag so the
 * temporary key of an atomic rebuild lands in the same slot as the key it replaces.
 */

export const DEFAULT_CACHE_PREFIX = 'afty:';
/** Key names reserved for tag sets inside a tenant's keyspace. */
export const TAG_SEGMENT = 'tag:';
/** The database store's key column is VARBINARY(1000); the same limit holds on Redis. */
export const MAX_KEY_BYTES = 1000;
export const MAX_TAG_BYTES = 200;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f]/;
const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{0,32}$/;

export function validatePrefix(prefix: string): string {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InputError(
      `invalid cache prefix ${describeValue(prefix)}: use up to 32 characters of letters, digits, _ . : -`,
    );
  }
  return prefix;
}

/** A key name an application may use: 1-1000 UTF-8 bytes, not inside the reserved `tag:` space. */
export function validateKey(key: string, tenant?: string): string {
  if (typeof key !== 'string' || key.length === 0 || Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new InputError(`invalid cache key ${describeValue(String(key))}: use 1-${MAX_KEY_BYTES} bytes`, {
      tenant,
    });
  }
  if (key.startsWith(TAG_SEGMENT)) {
    throw new InputError(`invalid cache key ${describeValue(key)}: names starting with "tag:" hold tags`, {
      tenant,
      hint: 'choose another key name',
    });
  }
  return key;
}

export function validateTag(tag: string, tenant?: string): string {
  // No control characters: a NUL marks the temporary copy of a tag being cleared.
  if (
    typeof tag !== 'string' ||
    tag.length === 0 ||
    Buffer.byteLength(tag) > MAX_TAG_BYTES ||
    CONTROL_CHARACTERS.test(tag)
  ) {
    throw new InputError(
      `invalid cache tag ${describeValue(String(tag))}: use 1-${MAX_TAG_BYTES} printable bytes`,
      {
        tenant,
      },
    );
  }
  return tag;
}

/** A TTL in whole seconds (undefined = no expiry). */
export function validateTtl(ttl: number | undefined, tenant?: string): number | undefined {
  if (ttl === undefined) return undefined;
  if (!Number.isSafeInteger(ttl) || ttl < 1) {
    throw new InputError(`invalid cache TTL ${String(ttl)}: use a whole number of seconds, at least 1`, {
      tenant,
    });
  }
  return ttl;
}

/** An increment step: a safe integer (either sign). */
export function validateIncrement(by: number, tenant?: string): number {
  if (!Number.isSafeInteger(by)) {
    throw new InputError(`cannot increment by ${String(by)}: use a whole number`, { tenant });
  }
  return by;
}

export function notAnInteger(key: string, tenant: string): OperationError {
  return new OperationError(`cache key ${describeValue(key)} does not hold an integer`, {
    tenant,
    hint: 'delete it or use another key for the counter',
  });
}

/** Names the Redis keys of one tenant. */
export class TenantKeyspace {
  /** `<prefix>t:{<tenant>}:` — every key of the tenant starts with it. */
  readonly base: string;

  constructor(
    readonly prefix: string,
    readonly tenant: string,
  ) {
    validatePrefix(prefix);
    validateTenantKey(tenant);
    this.base = `${prefix}t:{${tenant}}:`;
  }

  key(key: string): string {
    return this.base + key;
  }

  tag(tag: string): string {
    return `${this.base}${TAG_SEGMENT}${tag}`;
  }

  /** True for the tenant's tag sets (as opposed to its values). */
  isTagKey(fullKey: string): boolean {
    return fullKey.startsWith(this.base + TAG_SEGMENT);
  }

  /** The SCAN MATCH pattern for the tenant's keys, or those whose name matches `pattern`. */
  match(pattern = '*'): string {
    return escapeGlob(this.base) + pattern;
  }
}

export function centralDomainsKey(prefix: string): string {
  return `${prefix}central:{domains}`;
}

export function centralTenantKey(prefix: string, tenant: string): string {
  return `${prefix}central:tenant:{${tenant}}`;
}

/** Reads the tenant id back from a key under `<prefix>t:{…}:`, or undefined. */
export function tenantOfKey(prefix: string, fullKey: string): string | undefined {
  const start = `${prefix}t:{`;
  if (!fullKey.startsWith(start)) return undefined;
  const end = fullKey.indexOf('}:', start.length);
  return end === -1 ? undefined : fullKey.slice(start.length, end);
}

/** Escapes Redis glob metacharacters so the text matches itself in SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/**
 * The Redis glob (`*`, `?`, `[abc]`, `[^a-z]`, `\x`) as a RegExp, for walking a cluster slot where
 * there is no MATCH. Validates the pattern so both walks accept the same patterns.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index]!;
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else if (char === '\\' && index + 1 < pattern.length) source += escapeRegExp(pattern[++index]!);
    else if (char === '[') {
      const close = pattern.indexOf(']', index + 2);
      if (close === -1) throw new InputError(`invalid key pattern ${describeValue(pattern)}: unclosed [`);
      let body = pattern.slice(index + 1, close);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      source += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (inner) => `\\${inner}`)}]`;
      index = close;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 'u');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, (char) => `\\${char}`);
}

/** A --key pattern: non-empty, no control characters, a valid glob. */
export function validatePattern(pattern: string): string {
  if (pattern.length === 0 || CONTROL_CHARACTERS.test(pattern)) {
    throw new InputError(`invalid key pattern ${describeValue(pattern)}: use a Redis glob such as "user:*"`);
  }
  globToRegExp(pattern);
  return pattern;
}
