import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import {
  TenantKeyspace,
  centralDomainsKey,
  centralTenantKey,
  escapeGlob,
  globToRegExp,
  tenantOfKey,
  validateKey,
  validatePattern,
  validatePrefix,
  validateTag,
  validateTtl,
} from '../../src/lib/cache/keyspace.js';
import { AftyError } from '../../src/lib/errors.js';
import * as afty from '../../src/lib/index.js';

function exitCodeOf(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof AftyError) return error.exitCode;
    throw error;
  }
  return undefined;
}

describe('cache keyspace', () => {
  it('names keys exactly as docs/cache.md says', () => {
    const keys = new TenantKeyspace('afty:', 'acme');
    assert.equal(keys.key('user:1'), 'afty:t:{acme}:user:1');
    assert.equal(keys.tag('products'), 'afty:t:{acme}:tag:products');
    assert.equal(keys.match(), 'afty:t:{acme}:*');
    assert.equal(keys.match('user:*'), 'afty:t:{acme}:user:*');
    assert.equal(centralDomainsKey('afty:'), 'afty:central:{domains}');
    assert.equal(centralTenantKey('afty:', 'acme'), 'afty:central:tenant:{acme}');
    assert.ok(keys.isTagKey('afty:t:{acme}:tag:x'), "keys.isTagKey('afty:t:{acme}:tag:x')");
    assert.ok(!keys.isTagKey('afty:t:{acme}:tags'), "!keys.isTagKey('afty:t:{acme}:tags')");
    assert.equal(tenantOfKey('afty:', 'afty:t:{acme}:a}:b'), 'acme');
    assert.equal(tenantOfKey('afty:', 'afty:central:{domains}'), undefined);
    assert.equal(new TenantKeyspace('', 'acme').key('k'), 't:{acme}:k');
  });

  it('rejects bad tenants, prefixes, keys, tags, TTLs and patterns with exit 2', () => {
    assert.equal(
      exitCodeOf(() => new TenantKeyspace('afty:', 'a b')),
      2,
    );
    assert.equal(
      exitCodeOf(() => new TenantKeyspace('afty:', 'a}b')),
      2,
    );
    assert.equal(
      exitCodeOf(() => validatePrefix('a{b}')),
      2,
    );
    assert.equal(
      exitCodeOf(() => validatePrefix('x'.repeat(33))),
      2,
    );
    assert.equal(
      exitCodeOf(() => validateKey('')),
      2,
    );
    assert.equal(
      exitCodeOf(() => validateKey('tag:x')),
      2,
    );
    assert.equal(
      exitCodeOf(() => validateKey('x'.repeat(1001))),
      2,
    );
    assert.equal(validateKey('x'.repeat(1000)), 'x'.repeat(1000));
    assert.equal(
      exitCodeOf(() => validateTag('a\nb')),
      2,
    );
    assert.equal(
      exitCodeOf(() => validateTtl(0)),
      2,
    );
    assert.equal(
      exitCodeOf(() => validateTtl(-1)),
      2,
    );
    assert.equal(
      exitCodeOf(() => validateTtl(Number.NaN)),
      2,
    );
    assert.equal(validateTtl(undefined), undefined);
    assert.equal(
      exitCodeOf(() => validatePattern('[abc')),
      2,
    );
    assert.equal(
      exitCodeOf(() => validatePattern('')),
      2,
    );
  });

  it('translates Redis globs the way Redis matches them', () => {
    const cases: Array<[string, string, boolean]> = [
      ['user:*', 'user:1', true],
      ['user:*', 'user', false],
      ['user:?', 'user:12', false],
      ['user:[12]', 'user:2', true],
      ['user:[^12]', 'user:2', false],
      ['user:[a-c]', 'user:b', true],
      ['a\\*b', 'a*b', true],
      ['a\\*b', 'axb', false],
      ['{acme}.+(x)', '{acme}.+(x)', true],
      ['*', 'ünï 日本 🚀', true],
    ];
    for (const [pattern, text, expected] of cases) {
      assert.equal(globToRegExp(pattern).test(text), expected, `${pattern} vs ${text}`);
    }
    assert.equal(escapeGlob('a*b?[c]\\'), 'a\\*b\\?\\[c\\]\\\\');
    assert.ok(
      globToRegExp(escapeGlob('a*b?[c]\\')).test('a*b?[c]\\'),
      "globToRegExp(escapeGlob('a*b?[c]\\\\')).test('a*b?[c]\\\\')",
    );
  });

  it('is exported for applications: tenantCache picks the store from the source', () => {
    // Construction touches neither Redis nor the database, so placeholders suffice here.
    const redis = afty.tenantCache({ redis: {} as afty.RedisClient, prefix: 'app:' }, 'acme');
    assert.ok(redis instanceof afty.RedisTenantCache, 'redis instanceof afty.RedisTenantCache');
    assert.equal(redis.store, 'redis');
    assert.equal((redis as afty.RedisTenantCache).keys.key('k'), 'app:t:{acme}:k');
    const database = afty.tenantCache({ knex: {} as Knex }, 'acme');
    assert.ok(database instanceof afty.DatabaseTenantCache, 'database instanceof afty.DatabaseTenantCache');
    assert.equal(database.store, 'database');
    assert.equal(afty.tenantCache({ redis: {} as afty.RedisClient }, 'acme').store, 'redis');
    assert.throws(
      () => afty.tenantCache({ redis: {} as afty.RedisClient }, 'Not Valid'),
      /invalid tenant id/,
    );
  });
});
