import { isIP } from 'node:net';
import { InputError } from '../errors.js';

export const TENANT_ID_PATTERN = /^[a-z][a-z0-9-]{1,39}$/;
/** The statuses an operator sets (and selects fleets by). */
export const TENANT_STATUSES = ['active', 'suspended', 'blocked', 'inactive'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];
/**
 * A tenant whose `tenant create` has not finished (or was killed): its registry row comes first,
 * so a retry or `afty diagnose --fix` can complete or undo it. Never served: lists, fleet
 * selections and the cache's domain lookup leave it out unless asked for by this status.
 */
export const PROVISIONING = 'provisioning';
/** Every status a registry row can have. */
export const REGISTRY_STATUSES = [...TENANT_STATUSES, PROVISIONING] as const;
export type RegistryStatus = (typeof REGISTRY_STATUSES)[number];

/** Settings keys: a letter, then letters, digits, `_` or `-`; dots nest (`billing.plan`). */
const SETTING_KEY_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}(\.[a-zA-Z][a-zA-Z0-9_-]{0,63}){0,3}$/;
/** Keys owned by dedicated flags, so `--set` cannot bypass their validation. */
const RESERVED_SETTING_KEYS = new Set(['maintenance', 'homepage']);
const DOMAIN_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Shows a value safely inside a one-line error: control characters escaped, long values cut. */
export function describeValue(value: string): string {
  const quoted = JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  // JSON leaves bidi and zero-width characters as they are; in a terminal they would reorder or hide text.
  return quoted.replace(
    /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * A value as one word for a POSIX shell, for commands printed as remedies: as is when plain,
 * double-quoted when that needs no escapes, else single-quoted.
 */
export function shellWord(value: string): string {
  if (/^[\w@%+=:,./-]+$/.test(value)) return value;
  if (!/["$`\\!]/.test(value)) return `"${value}"`;
  return `'${value.replace(/'/g, "'\\''")}'`;
}

export function validateTenantId(value: string): string {
  if (!TENANT_ID_PATTERN.test(value)) {
    throw new InputError(
      `invalid tenant id ${describeValue(value)}: use 2-40 characters, a lower-case letter first, then a-z, 0-9 or -`,
    );
  }
  return value;
}

/**
 * Any id a registry may hold (stancl UUIDs, integers, a home-grown registry's slugs): printable
 * ASCII starting with a letter or digit, without quotes, backslashes, slashes, spaces or braces,
 * ≤ 64 characters. Ids become backup folder names and Redis hash tags, hence no `/` and no braces.
 */
export const TENANT_KEY_PATTERN = /^[A-Za-z0-9][!#$%&()*+,.:;<=>?@A-Z[\]^_a-z|~0-9-]{0,63}$/;

/** Validates an id read from or looked up in a registry (see TENANT_KEY_PATTERN). */
export function validateTenantKey(value: string): string {
  if (!TENANT_KEY_PATTERN.test(value)) {
    throw new InputError(
      `invalid tenant id ${describeValue(value)}: use up to 64 printable ASCII characters, a letter or digit first, without quotes, backslashes, slashes, spaces or braces`,
    );
  }
  return value;
}

/** True when the value may be a registry's tenant id (used to tell ids from domains). */
export function looksLikeTenantId(value: string): boolean {
  return TENANT_KEY_PATTERN.test(value);
}

/** Database names afty creates or adopts: 1-64 of letters, digits, `_`, `$` or `-`. */
const DATABASE_NAME_PATTERN = /^[A-Za-z0-9_$-]{1,64}$/;

export function validateDatabaseName(value: string, flag = 'database name'): string {
  if (!DATABASE_NAME_PATTERN.test(value)) {
    throw new InputError(
      `invalid ${flag} ${describeValue(value)}: use 1-64 characters of A-Z, a-z, 0-9, _, $ or -`,
    );
  }
  return value;
}

/**
 * RFC 1123 host name, lower-cased: no scheme, port, path, trailing dot, IP literal or
 * non-ASCII look-alike characters (punycode `xn--` labels are the way to write IDNs).
 */
export function validateDomain(value: string): string {
  const domain = value.toLowerCase();
  const reject = (why: string): never => {
    throw new InputError(`invalid domain ${describeValue(value)}: ${why}`);
  };
  if (domain.length === 0) reject('it is empty');
  if (domain.length > 253) reject('longer than 253 characters');
  if (domain.includes('://')) reject('give the host name only, without a scheme (https://)');
  if (/[/?#]/.test(domain)) reject('give the host name only, without a path');
  if (domain.includes(':')) reject('give the host name only, without a port');
  if (isIP(domain)) reject('an IP address is not a domain');
  const labels = domain.split('.');
  for (const label of labels) {
    if (!DOMAIN_LABEL.test(label)) {
      reject('each dot-separated label must be 1-63 characters of a-z, 0-9 or - (not first or last)');
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) reject('the top-level label cannot be numeric');
  return domain;
}

export function validateIp(value: string): string {
  const ip = value.trim();
  // Node accepts IPv6 zone ids (fe80::1%eth0), which name an interface of one machine, not a client.
  if (ip !== value || ip.includes('%') || isIP(ip) === 0) {
    throw new InputError(`invalid IP address ${describeValue(value)}: give an IPv4 or IPv6 address`);
  }
  return ip;
}

export function validateStatus(value: string): TenantStatus {
  if (!(TENANT_STATUSES as readonly string[]).includes(value)) {
    throw new InputError(`invalid status ${describeValue(value)}: use one of ${TENANT_STATUSES.join(', ')}`);
  }
  return value as TenantStatus;
}

export interface SettingAssignment {
  key: string;
  value: unknown;
}

/**
 * Parses `key=value`. The value is JSON when it parses as JSON (numbers, booleans, null,
 * quoted strings, arrays, objects), otherwise the raw string; `key=` removes the key.
 */
export function parseSettingAssignment(raw: string): SettingAssignment {
  const equals = raw.indexOf('=');
  if (equals <= 0) {
    throw new InputError(`invalid --set ${describeValue(raw)}: use key=value`);
  }
  const key = raw.slice(0, equals);
  const text = raw.slice(equals + 1);
  if (!SETTING_KEY_PATTERN.test(key)) {
    throw new InputError(
      `invalid setting key ${describeValue(key)}: use letters, digits, _ or - (a letter first), dots to nest`,
    );
  }
  if (RESERVED_SETTING_KEYS.has(key.split('.')[0]!)) {
    throw new InputError(
      `setting ${describeValue(key)} is managed by its own flag: use --${key.split('.')[0]}`,
    );
  }
  const nul = () =>
    new InputError(`invalid value for setting ${describeValue(key)}: NUL characters are not allowed`);
  if (text.includes('\u0000')) throw nul();
  if (text.length > 4096) {
    throw new InputError(`invalid value for setting ${describeValue(key)}: longer than 4096 characters`);
  }
  if (text === '') return { key, value: undefined };
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    return { key, value: text };
  }
  // JSON escapes ("\u0000") bring back what the raw text check refused.
  if (containsNul(value)) throw nul();
  return { key, value };
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value && typeof value === 'object') {
    return Object.entries(value).some(([key, inner]) => key.includes('\u0000') || containsNul(inner));
  }
  return false;
}

/**
 * Characters that have no place in one-line text: C0/C1 controls, line and paragraph separators,
 * and the bidirectional controls that make "Acme\u202eInc" display as something else (Trojan Source).
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/** A one-line free text (a reason, a message): printable, 1 to `max` characters. */
export function validateText(value: string, flag: string, max: number): string {
  const text = value.trim();
  if (CONTROL_CHARACTERS.test(text) || text.length === 0 || text.length > max) {
    throw new InputError(
      `invalid ${flag} ${describeValue(value)}: use 1-${max} printable characters on one line`,
    );
  }
  return text;
}

/** A search term: any printable text up to 200 characters, matched literally. */
export function validateSearch(value: string, flag: string): string {
  if (CONTROL_CHARACTERS.test(value) || value.length > 200) {
    throw new InputError(`invalid ${flag} ${describeValue(value)}: use up to 200 printable characters`);
  }
  return value;
}

/** A display name: printable, one line, at most 191 characters (the column's size). */
export function validateTenantName(value: string): string {
  if (CONTROL_CHARACTERS.test(value)) {
    throw new InputError(
      `invalid tenant name ${describeValue(value)}: control characters (including text-direction overrides) are not allowed`,
    );
  }
  const name = value.trim();
  if (name.length === 0 || name.length > 191) {
    throw new InputError(`invalid tenant name ${describeValue(value)}: use 1-191 characters`);
  }
  return name;
}

/** Durations like `30`, `30s`, `5m`, `2h`, `30d` → seconds. */
export function parseDurationSeconds(value: string, flag: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim());
  if (!match)
    throw new InputError(
      `invalid ${flag} ${describeValue(value)}: use a number of seconds or 30s, 5m, 2h, 30d`,
    );
  const factor = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * factor;
}
