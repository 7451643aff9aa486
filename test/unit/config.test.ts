import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/lib/config/index.js';
import { connectionUrl, describeLocation, parseDatabaseUrl, redactUrl } from '../../src/lib/config/urls.js';
import { ConfigError } from '../../src/lib/errors.js';

describe('config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'afty-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: unknown) =>
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));

  it('defaults to the embedded SQLite setup under .afty/', async () => {
    const config = await loadConfig({ cwd: dir, env: {} });
    assert.equal(config.file, undefined);
    assert.deepEqual(config.central, { driver: 'sqlite', filename: path.join(dir, '.afty/central.sqlite') });
    assert.deepEqual(config.servers, [
      { name: 'default', location: { driver: 'sqlite', filename: path.join(dir, '.afty/tenants') } },
    ]);
    assert.equal(config.tenancy.databasePrefix, 'tenant_');
    assert.equal(config.cache.url, undefined);
    assert.equal(config.backup.keep, 10);
    assert.ok(
      config.concurrency >= 1 && config.concurrency <= 4,
      'config.concurrency >= 1 && config.concurrency <= 4',
    );
  });

  it('finds the config file upward and resolves paths against its folder, not the cwd', async () => {
    write('afty.config.json', {
      migrations: { directory: 'db/tenant' },
      servers: { eu: 'mysql://app:pw@db.eu:3307' },
    });
    const nested = path.join(dir, 'a/b');
    mkdirSync(nested, { recursive: true });
    const config = await loadConfig({ cwd: nested, env: {} });
    assert.equal(config.file, path.join(dir, 'afty.config.json'));
    assert.equal(config.migrations.directory, path.join(dir, 'db/tenant'));
    assert.deepEqual(config.servers[0], {
      name: 'eu',
      location: {
        driver: 'mysql',
        connection: { host: 'db.eu', port: 3307, user: 'app', password: 'pw', database: undefined },
        source: `${path.join(dir, 'afty.config.json')}: servers.eu`,
      },
    });
  });

  it('applies env over file: AFTY_CENTRAL_URL, AFTY_SERVER_URL, AFTY_REDIS_URL, AFTY_CONCURRENCY, AFTY_SECRET', async () => {
    write('afty.config.json', {
      central: 'sqlite:c.sqlite',
      cache: { url: 'redis://file:6379' },
      concurrency: 2,
    });
    const config = await loadConfig({
      cwd: dir,
      env: {
        AFTY_CENTRAL_URL: 'mysql://root@127.0.0.1:3306/afty',
        AFTY_SERVER_URL: 'mysql://root@10.0.0.5',
        AFTY_REDIS_URL: 'redis://env:6379/1',
        AFTY_CONCURRENCY: '7',
        AFTY_SECRET: 's'.repeat(20),
      },
    });
    assert.equal(config.central.driver, 'mysql');
    assert.equal(config.servers.find((server) => server.name === 'default')?.location.driver, 'mysql');
    assert.equal(config.cache.url, 'redis://env:6379/1');
    assert.equal(config.concurrency, 7);
    assert.equal(config.secret, 's'.repeat(20));
  });

  it('reads .env without overriding the real environment', async () => {
    write('.env', 'AFTY_CONCURRENCY=5\nAFTY_REDIS_URL=redis://dotenv:6379\n');
    const config = await loadConfig({ cwd: dir, env: { AFTY_REDIS_URL: 'redis://real:6379' } });
    assert.equal(config.concurrency, 5);
    assert.equal(config.cache.url, 'redis://real:6379');
  });

  it('takes --config (and AFTY_CONFIG) over discovery, and .aftyrc.json / afty.config.mjs', async () => {
    write('other.json', { tenancy: { databasePrefix: 'cust_' } });
    assert.equal(
      (await loadConfig({ cwd: dir, env: {}, configPath: 'other.json' })).tenancy.databasePrefix,
      'cust_',
    );
    assert.equal(
      (await loadConfig({ cwd: dir, env: { AFTY_CONFIG: 'other.json' } })).tenancy.databasePrefix,
      'cust_',
    );
    write('.aftyrc.json', { tenancy: { databasePrefix: 'rc_' } });
    assert.equal((await loadConfig({ cwd: dir, env: {} })).tenancy.databasePrefix, 'rc_');
    rmSync(path.join(dir, '.aftyrc.json'));
    write('afty.config.mjs', "export default { tenancy: { databasePrefix: 'mjs_' } };");
    assert.equal((await loadConfig({ cwd: dir, env: {} })).tenancy.databasePrefix, 'mjs_');
  });

  it('names the file and the key in validation errors (exit 2)', async () => {
    write('afty.config.json', { tenancy: { databasePrefix: 'Bad-Prefix' } });
    await assert.rejects(
      loadConfig({ cwd: dir, env: {} }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.exitCode === 2 &&
        error.message.includes(path.join(dir, 'afty.config.json')) &&
        error.message.includes('"tenancy.databasePrefix"'),
    );
  });

  it('rejects invalid JSON, bad URLs and bad env values with the source named', async () => {
    write('afty.config.json', '{ "central": ');
    await assert.rejects(
      loadConfig({ cwd: dir, env: {} }),
      /afty\.config\.json:1:14: not valid JSON: value expected/,
    );
    write('afty.config.json', { central: 'oracle://x' });
    await assert.rejects(
      loadConfig({ cwd: dir, env: {} }),
      /central uses unsupported scheme "oracle:" \(expected mysql:, mysql2:, mariadb:, postgres:, postgresql:, sqlite:\)/,
    );
    write('afty.config.json', { central: 'postgres://x' });
    await assert.rejects(loadConfig({ cwd: dir, env: {} }), /central names no database for the registry/);
    write('afty.config.json', { central: `postgres://x/${'d'.repeat(64)}` });
    await assert.rejects(loadConfig({ cwd: dir, env: {} }), /use 1-63 bytes/);
    write('afty.config.json', {});
    await assert.rejects(
      loadConfig({ cwd: dir, env: { AFTY_CONCURRENCY: 'lots' } }),
      /AFTY_CONCURRENCY must be a whole number/,
    );
    await assert.rejects(
      loadConfig({ cwd: dir, env: { AFTY_REDIS_URL: 'http://x' } }),
      /AFTY_REDIS_URL must start with redis:\/\//,
    );
    await assert.rejects(loadConfig({ cwd: dir, env: {}, configPath: 'missing.json' }), /does not exist/);
  });

  it('takes PostgreSQL servers as {client: "pg"} too, and tenancy.mode "schema" only with PostgreSQL servers that name a database', async () => {
    write('afty.config.json', {
      central: { client: 'pg', connection: { host: 'pg', database: 'afty' } },
      servers: { default: 'postgres://postgres@127.0.0.1:5432/app' },
      tenancy: { mode: 'schema' },
    });
    const config = await loadConfig({ cwd: dir, env: {} });
    assert.equal(config.central.driver, 'postgres');
    assert.equal(config.tenancy.mode, 'schema');
    write('afty.config.json', {
      servers: { default: 'mysql://root@127.0.0.1/x' },
      tenancy: { mode: 'schema' },
    });
    await assert.rejects(
      loadConfig({ cwd: dir, env: {} }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /tenancy\.mode "schema" needs PostgreSQL servers, but server "default" is MySQL\/MariaDB/.test(
          error.message,
        ),
    );
    write('afty.config.json', {
      servers: { default: 'postgres://postgres@127.0.0.1' },
      tenancy: { mode: 'schema' },
    });
    await assert.rejects(loadConfig({ cwd: dir, env: {} }), /server "default" names no database/);
    write('afty.config.json', { tenancy: { mode: 'schemas' } });
    await assert.rejects(loadConfig({ cwd: dir, env: {} }), /"tenancy\.mode"/);
    write('afty.config.json', {});
    assert.equal((await loadConfig({ cwd: dir, env: {} })).tenancy.mode, 'database');
  });

  it('warns about unknown keys instead of failing', async () => {
    write('afty.config.json', { tenacy: {}, cache: { prefx: 'x' } });
    const config = await loadConfig({ cwd: dir, env: {} });
    assert.equal(config.warnings.length, 2);
    assert.match(config.warnings[0]!, /unknown key "tenacy"/);
    assert.match(config.warnings[1]!, /unknown key "cache.prefx"/);
  });

  it('parses and redacts URLs', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite:///abs/c.sqlite', '/base', 'k'), {
      driver: 'sqlite',
      filename: '/abs/c.sqlite',
    });
    assert.deepEqual(parseDatabaseUrl('sqlite:rel/c.sqlite', '/base', 'k'), {
      driver: 'sqlite',
      filename: '/base/rel/c.sqlite',
    });
    const mysql = parseDatabaseUrl('mariadb://u%40x:p%3Aw@h:3310/db', '/', 'k');
    assert.deepEqual(mysql, {
      driver: 'mysql',
      connection: { host: 'h', port: 3310, user: 'u@x', password: 'p:w', database: 'db' },
      source: 'k',
    });
    assert.deepEqual(parseDatabaseUrl('postgresql://app:s%40cret@pg:6543/central', '/', 'k'), {
      driver: 'postgres',
      connection: { host: 'pg', port: 6543, user: 'app', password: 's@cret', database: 'central' },
      source: 'k',
    });
    assert.deepEqual(parseDatabaseUrl('postgres://pg', '/', 'k'), {
      driver: 'postgres',
      connection: { host: 'pg', port: 5432, user: 'postgres', password: undefined, database: undefined },
      source: 'k',
    });
    assert.equal(
      describeLocation(parseDatabaseUrl('postgres://app:secret@pg/x', '/', 'k')),
      'postgres://app@pg:5432/x',
    );
    assert.equal(
      connectionUrl(parseDatabaseUrl('postgres://a%3Ab:p%40ss@pg/x', '/', 'k')),
      'postgres://a%3Ab:p%40ss@pg:5432/x',
    );
    assert.equal(redactUrl('redis://:hunter2@cache:6379/0'), 'redis://:***@cache:6379/0');
    assert.equal(redactUrl('mysql://root:hunter2@db/x'), 'mysql://root:***@db/x');
  });
});
