import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient, TenantCache } from '../../src/lib/cache/index.js';
import { AftyError } from '../../src/lib/errors.js';
import { uniqueToken } from '../support/services.js';

/** Visits every key matching a glob on every master (SCAN per node: test-side, independent of afty). */
async function eachRedisKey(
  client: RedisClient,
  match: string,
  visit: (node: Redis, key: string) => Promise<void>,
) {
  const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) await visit(node, key);
    } while (cursor !== '0');
  }
}

/** Every key matching a glob with its raw DUMP and whether it has a TTL: byte-exact state. */
export async function redisSnapshot(client: RedisClient, match: string): Promise<string> {
  const lines: string[] = [];
  await eachRedisKey(client, match, async (node, key) => {
    const dump = await node.dumpBuffer(key);
    const ttl = await node.pttl(key);
    lines.push(`${key}\t${dump?.toString('hex')}\t${ttl > 0 ? 'ttl' : ttl}`);
  });
  return lines.sort().join('\n');
}

/** Test clean-up: removes every key under the prefix. */
export async function unlinkPrefix(client: RedisClient, prefix: string): Promise<void> {
  await eachRedisKey(client, `${prefix}*`, async (_node, key) => {
    await client.unlink(key);
  });
}

/** One cache store under test: the same behavioural suite runs on each. */
export interface StoreHarness {
  open(tenant: string): Promise<TenantCache>;
  /** The tenant's stored state, byte for byte (raw dumps / rows), for "left untouched" checks. */
  snapshot(tenant: string): Promise<string>;
  /** Redis stores: write central keys and read them back, to prove a tenant clear leaves them. */
  central?: { write(tenant: string): Promise<void>; read(tenant: string): Promise<string> };
}

const MEGABYTE_VALUE = 'é'.repeat(512 * 1024); // 1 MiB of UTF-8
const AWKWARD_KEYS = [
  'with spaces in it',
  'braces {acme} and }{',
  'colons:a:b::c:',
  'unicode ünïcødé 日本語 🚀',
  'glob *?[x]\\ chars',
  ' leading and trailing ',
  'Case',
  'case',
];

function tenantId(): string {
  return `t${uniqueToken(8)}`;
}

async function expectInputError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AftyError, `expected an AftyError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, pattern);
    return true;
  });
}

/** Registers the shared behaviour tests; `harness()` is called after the caller's before(). */
export function tenantCacheBehaviour(harness: () => StoreHarness): void {
  let store: StoreHarness;
  before(() => {
    store = harness();
  });

  it('gets, sets, deletes and expires values', async () => {
    const cache = await store.open(tenantId());
    assert.equal(await cache.get('missing'), null);
    await cache.set('greeting', 'hello');
    assert.equal(await cache.get('greeting'), 'hello');
    await cache.set('greeting', 'hello again');
    assert.equal(await cache.get('greeting'), 'hello again');
    assert.equal(await cache.delete('greeting'), true);
    assert.equal(await cache.delete('greeting'), false);
    assert.equal(await cache.get('greeting'), null);
    await cache.set('short', 'lived', { ttl: 1 });
    await cache.set('long', 'lived', { ttl: 60 });
    assert.equal(await cache.get('short'), 'lived');
    await sleep(1100);
    assert.equal(await cache.get('short'), null);
    assert.equal(await cache.get('long'), 'lived');
    assert.equal(await cache.count(), 1);
  });

  it('keeps two tenants with the same key names apart', async () => {
    const [a, b] = [await store.open(tenantId()), await store.open(tenantId())];
    for (const key of ['user:1', 'config', 'counter']) {
      await a.set(key, `a-${key}`);
      await b.set(key, `b-${key}`);
    }
    await a.increment('hits', 5);
    await b.increment('hits', 7);
    for (const key of ['user:1', 'config', 'counter']) {
      assert.equal(await a.get(key), `a-${key}`);
      assert.equal(await b.get(key), `b-${key}`);
    }
    assert.equal(await a.get('hits'), '5');
    assert.equal(await b.get('hits'), '7');
    await a.delete('config');
    assert.equal(await b.get('config'), 'b-config');
  });

  it("clearing one tenant leaves the other's keys byte-identical (and central keys)", async () => {
    const [idA, idB] = [tenantId(), tenantId()];
    const [a, b] = [await store.open(idA), await store.open(idB)];
    // More keys than a delete or scan batch, written 100 at a time: one by one, the database store
    // on MariaDB waits for a commit per key (seconds; a minute on a busy disk).
    await a.set('k0', 'a0');
    for (let start = 1; start < 2500; start += 100)
      await Promise.all(
        Array.from({ length: Math.min(100, 2500 - start) }, (_, offset) =>
          a.set(`k${start + offset}`, `a${start + offset}`),
        ),
      );
    for (const key of ['k1', 'k2', ...AWKWARD_KEYS]) await b.set(key, `b:${key}`, { tags: ['shared'] });
    await a.set('tagged', 'x', { tags: ['shared'] });
    await b.set('ttl', 'y', { ttl: 300 });
    await store.central?.write(idA);
    const before = await store.snapshot(idB);
    const centralBefore = await store.central?.read(idA);

    assert.equal(await a.count(), 2501);
    assert.equal(await a.clear(), 2501);
    assert.equal(await a.count(), 0);
    assert.equal(await a.get('k1'), null);
    assert.equal(await a.clearTag('shared'), 0, 'a full clear removes the tenant’s tags too');
    assert.equal(await store.snapshot(idB), before);
    assert.equal(await store.central?.read(idA), centralBefore);
    assert.equal(await b.get('k1'), 'b:k1');
  });

  it("tag-clearing one tenant removes its tagged keys only and leaves the other's byte-identical", async () => {
    const [idA, idB] = [tenantId(), tenantId()];
    const [a, b] = [await store.open(idA), await store.open(idB)];
    await a.set('p:1', 'one', { tags: ['products'] });
    await a.set('p:2', 'two', { tags: ['products', 'featured'] });
    await a.set('u:1', 'user');
    await a.tag('u:1', ['users']);
    await a.tag('later', ['products']);
    await b.set('p:1', 'other one', { tags: ['products'] });
    await b.set('p:2', 'other two', { tags: ['products'] });
    const before = await store.snapshot(idB);

    assert.equal(await a.countTag('products'), 2);
    assert.equal(await a.clearTag('products'), 2);
    assert.equal(await a.get('p:1'), null);
    assert.equal(await a.get('p:2'), null);
    assert.equal(await a.get('u:1'), 'user');
    assert.equal(await a.clearTag('products'), 0);
    assert.equal(await a.clearTag('never-used'), 0);
    // A key tagged before it existed is cleared once it does.
    await a.set('later', 'now');
    await a.tag('later', ['products']);
    assert.equal(await a.clearTag('products'), 1);
    assert.equal(await a.clearTag('users'), 1);
    assert.equal(await store.snapshot(idB), before);
    assert.equal(await b.get('p:1'), 'other one');
  });

  it('stores keys with spaces, braces, colons, unicode and glob characters, and 1 MB values', async () => {
    const [idA, idB] = [tenantId(), tenantId()];
    const [a, b] = [await store.open(idA), await store.open(idB)];
    for (const key of AWKWARD_KEYS) await a.set(key, `value of ${key}`, { tags: ['awkward {tag}: ü'] });
    await a.set('big', MEGABYTE_VALUE);
    await b.set('big', 'small');
    for (const key of AWKWARD_KEYS) assert.equal(await a.get(key), `value of ${key}`);
    assert.equal(await a.get('Case'), 'value of Case');
    assert.equal(await a.get('case'), 'value of case');
    assert.equal(await a.get(' leading and trailing'), null, 'trailing spaces are significant');
    const big = await a.get('big');
    assert.equal(big?.length, MEGABYTE_VALUE.length);
    assert.equal(Buffer.byteLength(big ?? ''), 1024 * 1024);
    assert.equal(big, MEGABYTE_VALUE);
    assert.equal(await a.count({ pattern: 'glob \\*\\?\\[x\\]\\\\ chars' }), 1);
    assert.equal(await a.count({ pattern: 'braces {acme}*' }), 1);
    assert.equal(await a.clearTag('awkward {tag}: ü'), AWKWARD_KEYS.length);
    assert.equal(await a.get('big'), MEGABYTE_VALUE);
    assert.equal(await b.get('big'), 'small');
  });

  it('remembers: computes once, then serves the cached value', async () => {
    const cache = await store.open(tenantId());
    let calls = 0;
    const compute = async () => {
      calls += 1;
      return `computed ${calls}`;
    };
    assert.equal(await cache.remember('report', compute, { ttl: 60, tags: ['reports'] }), 'computed 1');
    assert.equal(await cache.remember('report', compute), 'computed 1');
    assert.equal(calls, 1);
    assert.equal(await cache.clearTag('reports'), 1);
    assert.equal(await cache.remember('report', compute), 'computed 2');
  });

  it('increments counters, keeps their TTL and refuses non-integers', async () => {
    const id = tenantId();
    const cache = await store.open(id);
    assert.equal(await cache.increment('n'), 1);
    assert.equal(await cache.increment('n', 41), 42);
    assert.equal(await cache.increment('n', -50), -8);
    await cache.set('short', '10', { ttl: 1 });
    assert.equal(await cache.increment('short', 5), 15);
    await sleep(1100);
    assert.equal(await cache.get('short'), null, 'increment kept the TTL');
    await cache.set('text', 'not a number');
    await assert.rejects(cache.increment('text'), (error: unknown) => {
      assert.ok(error instanceof AftyError, 'error instanceof AftyError');
      assert.equal(error.exitCode, 1);
      assert.equal(error.tenant, id);
      assert.match(error.message, /does not hold an integer/);
      return true;
    });
    assert.equal(await cache.get('text'), 'not a number');
    await expectInputError(cache.increment('n', 1.5), /whole number/);
    assert.equal(await cache.get('n'), '-8');
  });

  it('clears and counts by key pattern, leaving other keys and tags', async () => {
    const cache = await store.open(tenantId());
    for (let index = 0; index < 30; index += 1) await cache.set(`user:${index}`, 'u', { tags: ['users'] });
    await cache.set('session:1', 's');
    await cache.set('user', 'no colon');
    assert.equal(await cache.count({ pattern: 'user:*' }), 30);
    assert.equal(await cache.count({ pattern: 'user:?' }), 10);
    assert.equal(await cache.count({ pattern: 'user:[12]' }), 2);
    assert.equal(await cache.count({ pattern: 'tag:*' }), 0, 'tag sets are never values');
    assert.equal(await cache.clear({ pattern: 'user:1*' }), 11);
    assert.equal(await cache.count(), 21);
    assert.equal(await cache.get('session:1'), 's');
    assert.equal(await cache.get('user'), 'no colon');
    assert.equal(await cache.clearTag('users'), 19, 'the tag survives a pattern clear');
    assert.equal(await cache.clear({ pattern: 'nothing*' }), 0);
  });

  it('rejects invalid keys, tags, TTLs and patterns with exit 2 and changes nothing', async () => {
    const id = tenantId();
    const cache = await store.open(id);
    await cache.set('kept', 'value', { tags: ['t'] });
    const before = await store.snapshot(id);
    await expectInputError(cache.set('', 'x'), /invalid cache key/);
    await expectInputError(cache.set('tag:users', 'x'), /hold tags/);
    await expectInputError(cache.set('x'.repeat(1001), 'x'), /1-1000 bytes/);
    await expectInputError(cache.set('ü'.repeat(501), 'x'), /1-1000 bytes/);
    await expectInputError(cache.set('ok', 'x', { ttl: 0 }), /TTL/);
    await expectInputError(cache.set('ok', 'x', { ttl: 1.5 }), /TTL/);
    await expectInputError(cache.set('ok', 'x', { tags: ['bad\u0000tag'] }), /invalid cache tag/);
    await expectInputError(cache.set('ok', 'x', { tags: [''] }), /invalid cache tag/);
    await expectInputError(cache.tag('ok', ['t'.repeat(201)]), /invalid cache tag/);
    await expectInputError(cache.clear({ pattern: 'user[' }), /unclosed/);
    await expectInputError(cache.count({ pattern: '' }), /invalid key pattern/);
    await expectInputError(cache.get(''), /invalid cache key/);
    assert.equal(await store.snapshot(id), before);
    assert.equal(await cache.get('ok'), null);
  });
}
