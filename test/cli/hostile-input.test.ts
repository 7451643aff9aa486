import { Config } from '@oclif/core';
import { captureOutput } from '@oclif/test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeStandardFixture } from '../integration/migrations-fixture.js';
import { ROOT, runCli } from '../support/cli.js';
import { createProject, TEST_SECRET, type TestProject } from '../support/project.js';
import { mariadbAdmin, REDIS_URL, requireMariaDb, requireRedis } from '../support/services.js';
import { describeValue, TENANT_KEY_PATTERN } from '../../src/lib/validation/index.js';

/**
 * Runs a command in this process (fast, and a NUL can reach it, which a real argv cannot);
 * positional values go after `--` so a leading `-` stays a value. Commands that report (test,
 * diagnose) set process.exitCode instead of throwing.
 */
async function runCommandInProcess(
  config: Config,
  configFile: string,
  argv: string[],
): Promise<{ exit: number; stderr: string; stdout: string }> {
  const rest = argv.slice(1);
  const { error, stderr, stdout } = await captureOutput(() =>
    config.runCommand(argv[0]!, rest.includes('--config') ? rest : ['--config', configFile, ...rest]),
  );
  const exit = error
    ? ((error as { oclif?: { exit?: number } }).oclif?.exit ?? 1)
    : Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { exit, stderr, stdout };
}

/** Hostile fragments: quoting, SQL, paths, control characters, look-alikes, lengths, shells. */
const FRAGMENTS = [
  "'",
  '"',
  '`',
  ';',
  "'; DROP TABLE afty_tenants; --",
  '" OR "1"="1',
  "' OR 1=1 --",
  '`; DROP DATABASE mysql; --',
  "admin'--",
  '1; SELECT SLEEP(5)',
  'UNION SELECT password FROM mysql.user',
  '/*',
  '*/',
  '--',
  '#',
  '%',
  '_',
  '\\',
  '\\0',
  '../',
  '../../etc/passwd',
  '..\\..\\windows',
  '/',
  '\u0000',
  'a\u0000b',
  '\n',
  '\r\n',
  '\t',
  ' ',
  '\u200b',
  '\u202e',
  'аcme', // Cyrillic а
  'ɑcme', // Latin alpha
  'ａｃｍｅ', // fullwidth
  'acmе', // Cyrillic е
  'αcme', // Greek alpha
  'ß',
  'İ',
  '😀',
  '$(id)',
  '`id`',
  '${HOME}',
  '|| true',
  '&& rm -rf /',
  '<script>alert(1)</script>',
  '%27',
  '%00',
  '{{7*7}}',
  'x'.repeat(65),
  'y'.repeat(300),
  'ACME',
  'Acme',
  '@',
  ':',
  '?',
  '=',
  ',',
  '*',
  '!',
  '~',
  '+',
  '[',
  ']',
  '{',
  '}',
  '(',
  ')',
  '<',
  '>',
  '^',
  '&',
  '|',
  '$',
  'NULL',
  'true',
  '0x41',
  '\u00a0',
  '\u3000',
  '\ufeff',
  '\u0301',
  '\ud800',
  '\x7f',
  '\x1b[31m',
  '\\N',
  'CHAR(39)',
  'information_schema',
  'mysql.user',
  '..',
  '.',
  '-',
  '--acme',
  '1acme',
  '-acme',
  'acme-',
  'a',
];

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** Tenant ids: each fragment alone, as a suffix and as a prefix of a valid id. */
const hostileIds = unique(
  FRAGMENTS.flatMap((fragment) => [fragment, `acme${fragment}`, `${fragment}acme`]),
).filter((value) => !/^[a-z][a-z0-9-]{1,39}$/.test(value));

/** Domains: fragments embedded in otherwise valid host names, plus URL-shaped mistakes. */
const hostileDomains = unique([
  ...FRAGMENTS.flatMap((fragment) => [
    `acme${fragment}.test`,
    `${fragment}.acme.test`,
    `acme.test${fragment}`,
  ]),
  'http://acme.test',
  'https://acme.test/',
  'acme.test:443',
  'acme.test/admin',
  '127.0.0.1',
  '[::1]',
  '*.acme.test',
  'acme..test',
  `${'a'.repeat(64)}.test`,
  `${'a.'.repeat(127)}test`,
  'acme.123',
  'user@acme.test',
]).filter((value) => {
  const lower = value.toLowerCase();
  return !(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(lower) &&
    lower.length <= 253 &&
    !/\.[0-9]+$/.test(lower)
  );
});

/** update: hostile --set keys, --allow-ip values, names, statuses' reasons. */
const SETTING_KEY = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}(\.[a-zA-Z][a-zA-Z0-9_-]{0,63}){0,3}$/;
const hostileUpdates: string[][] = unique(FRAGMENTS.map((fragment) => `k${fragment}y`))
  .filter((key) => !SETTING_KEY.test(key.split('=')[0]!))
  .map((key) => ['--set', `${key}=1`])
  .concat(FRAGMENTS.map((fragment) => ['--maintenance', 'on', '--allow-ip', `10.0.0.1${fragment}`]))
  .concat(
    FRAGMENTS.filter((fragment) =>
      [...fragment].some((char) => char.charCodeAt(0) < 0x20 || char === '\x7f'),
    ).map((fragment) => ['--name', `Acme${fragment}Inc`]),
  )
  .concat([['--name', 'z'.repeat(192)]], [['--set', '__proto__=1']], [['--set', 'maintenance=off']]);

describe('hostile input to tenant create / update / domain add (MariaDB)', function () {
  this.timeout(180_000);
  let project: TestProject;
  let config: Config;
  let configFile: string;
  const savedSecret = process.env.AFTY_SECRET;

  const runInProcess = (argv: string[]) => runCommandInProcess(config, configFile, argv);

  async function serverState() {
    const admin = await mariadbAdmin();
    try {
      const like = `${project.prefix.replace(/_/g, '\\_')}%`;
      const [[databases], [users], [tenants], [domains], [settings]] = (await Promise.all([
        admin.raw(
          'SELECT schema_name AS n FROM information_schema.schemata WHERE schema_name LIKE ? ORDER BY 1',
          [like],
        ),
        admin.raw('SELECT User AS n FROM mysql.user WHERE User LIKE ? ORDER BY 1', [like]),
        admin.raw('SELECT id AS n FROM ??.afty_tenants ORDER BY 1', [`afty_central_${project.token}`]),
        admin.raw('SELECT domain AS n FROM ??.afty_domains ORDER BY 1', [`afty_central_${project.token}`]),
        admin.raw('SELECT CONCAT(name, settings, status) AS n FROM ??.afty_tenants ORDER BY id', [
          `afty_central_${project.token}`,
        ]),
      ])) as Array<[Array<{ n: string }>]>;
      return [databases, users, tenants, domains, settings].map((rows) => rows!.map((row) => row.n));
    } finally {
      await admin.destroy();
    }
  }

  before(async () => {
    await requireMariaDb();
    project = createProject({ driver: 'mariadb' });
    configFile = path.join(project.dir, 'afty.config.json');
    process.env.AFTY_SECRET = TEST_SECRET;
    const ctx = await project.context();
    const { Registry } = await import('../../src/lib/registry/index.js');
    await Registry.createDatabase(ctx.config.central);
    await ctx.close();
    config = await Config.load(ROOT);
    const seed = await runInProcess(['tenant:create', 'victim', '--domain', 'victim.test']);
    assert.equal(seed.exit, 0, seed.stderr);
  });
  after(async () => {
    process.env.AFTY_SECRET = savedSecret;
    await project?.cleanup();
  });

  it('has at least 300 hostile values across the three commands', () => {
    const total = hostileIds.length + hostileDomains.length + hostileUpdates.length;
    assert.ok(hostileIds.length >= 250, `ids: ${hostileIds.length}`);
    assert.ok(total >= 600, `total: ${total}`);
  });

  it('rejects every hostile value with exit 2 and one clear line, and nothing appears on the server or in the registry', async () => {
    const before = await serverState();
    const failures: string[] = [];
    const check = async (argv: string[], pattern: RegExp) => {
      const result = await runInProcess(argv);
      const lines = result.stderr.trim().split('\n');
      if (result.exit !== 2 || lines.length !== 1 || !pattern.test(lines[0]!)) {
        failures.push(`${JSON.stringify(argv)} → exit ${result.exit}: ${result.stderr.trim()}`);
      }
    };
    for (const id of hostileIds) await check(['tenant:create', '--', id], /^Error: invalid tenant id /);
    for (const domain of hostileDomains) {
      await check(['tenant:create', 'fresh', `--domain=${domain}`], /^Error: invalid domain /);
      await check(['tenant:domain:add', '--', 'victim', domain], /^Error: invalid domain /);
    }
    for (const args of hostileUpdates)
      await check(['tenant:update', 'victim', ...args], /^Error: (invalid|setting)/);
    for (const id of hostileIds.slice(0, 40))
      await check(['tenant:update', '--name', 'x', '--', id], /^Error: no tenant with id or domain /);
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.deepEqual(await serverState(), before);
  });

  it('behaves the same through the real binary (sample)', async () => {
    const before = await serverState();
    const sample: string[][] = [
      ['tenant', 'create', "acme'; DROP TABLE afty_tenants; --"],
      ['tenant', 'create', 'аcme'],
      // (a NUL cannot reach a real argv at all; the in-process run above covers it)
      ['tenant', 'create', 'acme co'],
      ['tenant', 'create', '../etc'],
      ['tenant', 'create', 'x'.repeat(65)],
      ['tenant', 'create', 'ok-id', '--domain', 'https://acme.test/'],
      ['tenant', 'domain', 'add', 'victim', 'acme`.test'],
      ['tenant', 'update', 'victim', '--set', 'a;b=1'],
      ['tenant', 'update', 'victim', '--maintenance', 'on', '--allow-ip', '1.2.3.4; DROP'],
      ['tenant', 'create', 'ok-id', '--status', 'deleted'],
    ];
    for (const argv of sample) {
      const result = await runCli(argv, { cwd: project.dir, env: project.env });
      assert.equal(result.exitCode, 2, `${JSON.stringify(argv)}: ${result.stderr}`);
      assert.match(result.stderr, /^Error: /);
      assert.equal(result.stdout, '');
    }
    assert.deepEqual(await serverState(), before);
  });
});

/** Numbers that no count, size or limit flag accepts. */
const BAD_COUNTS = ['0', '-1', 'abc', '1.5', '1e3', '', ' ', '0x10', 'NaN', 'Infinity', '+1', '1 2', '٣'];
/** Durations and ages that are not `<digits><unit>`. */
const BAD_DURATIONS = ['', ' ', '-1s', '1.5h', 'abc', '1y', '10 m', 's', '1e3s', '0x10m', '1h30m', '\u0000'];
/** File paths that cannot be written (afty runs as root in CI, so permissions alone prove nothing). */
function unwritablePaths(projectDir: string): string[] {
  return [
    '/nonexistent-afty-dir/report.xml',
    '/etc/hostname/report.xml',
    projectDir,
    '/proc/afty-report.xml',
    path.join(projectDir, 'no-such-dir', 'report.xml'),
    '',
  ];
}
/** Paths that are no backup archive or manifest. */
function notBackups(projectDir: string): string[] {
  return [
    '/etc/passwd',
    '/nonexistent-afty-dir/x.sql.gz',
    projectDir,
    path.join(projectDir, 'afty.config.json'),
    '../../../../etc/shadow',
    '',
    'x'.repeat(300),
  ];
}
/**
 * URLs that are no database URL (bad percent-escapes, schemes, hosts, database names). Port 1,
 * where nothing listens: one that slipped through validation fails to connect, and creates nothing.
 */
const BAD_DATABASE_URLS = [
  'mysql://root:%E0%A4%A@127.0.0.1:1/afty',
  'mysql://ro%ZZot@127.0.0.1:1/afty',
  'mysql://root@127.0.0.1:1/%E0%A4%A',
  'mysql://root@127.0.0.1:99999/afty',
  'mysql://root@[::1/afty',
  'mysql://',
  'http://127.0.0.1/afty',
  'oracle://127.0.0.1/afty',
  `postgres://postgres@127.0.0.1:1/${'d'.repeat(64)}`,
  'postgres://postgres@127.0.0.1:1/a%2Fb',
  `mysql://root@127.0.0.1:1/${'d'.repeat(100)}`,
  'mysql://root@127.0.0.1:1/a/b',
  'mysql://root@127.0.0.1:1/a%00b',
  'mysql://root@127.0.0.1:1/a%2Fb',
  'sqlite:',
  'not a url',
  '://',
];
const BAD_REDIS_URLS = [
  'redis://:%E0%A4%A@127.0.0.1:1/0',
  'redis://127.0.0.1:99999/0',
  'redis://127.0.0.1:1/abc',
  'redis://[::1/0',
  'http://127.0.0.1:1',
  'redis://',
];

describe('hostile values for every command that takes an argument or a flag value (MariaDB + Redis)', function () {
  this.timeout(600_000);
  let project: TestProject;
  let config: Config;
  let configFile: string;
  const savedSecret = process.env.AFTY_SECRET;

  const runInProcess = (argv: string[]) => runCommandInProcess(config, configFile, argv);

  /** Databases, users, registry rows (tenants, domains), the tenant's tables and rows, Redis keys, files. */
  async function state(): Promise<unknown> {
    const admin = await mariadbAdmin();
    const central = `afty_central_${project.token}`;
    const like = `${project.prefix.replace(/_/g, '\\_')}%`;
    let database: unknown;
    try {
      const [[databases], [users], [tenants], [domains], [seeded], [migrations]] = (await Promise.all([
        admin.raw(
          'SELECT schema_name AS n FROM information_schema.schemata WHERE schema_name LIKE ? ORDER BY 1',
          [like],
        ),
        admin.raw('SELECT CONCAT(User, "@", Host) AS n FROM mysql.user WHERE User LIKE ? ORDER BY 1', [like]),
        admin.raw('SELECT * FROM ??.afty_tenants ORDER BY id', [central]),
        admin.raw('SELECT * FROM ??.afty_domains ORDER BY domain', [central]),
        admin.raw('SELECT * FROM ??.seed_log ORDER BY id', [`${project.prefix}victim`]),
        admin.raw('SELECT name FROM ??.knex_migrations ORDER BY id', [`${project.prefix}victim`]),
      ])) as Array<[unknown[]]>;
      database = { databases, users, tenants, domains, seeded, migrations };
    } finally {
      await admin.destroy();
    }
    const { Redis } = await import('ioredis');
    const redis = new Redis(REDIS_URL);
    let keys: string[];
    try {
      keys = (await redis.keys(`afty-test-${project.token}:*`)).sort();
    } finally {
      redis.disconnect();
    }
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else
          files.push(`${path.relative(project.dir, full)} ${statSync(full).size} ${statSync(full).mtimeMs}`);
      }
    };
    walk(project.dir);
    return { database, keys, files: files.sort() };
  }

  before(async () => {
    await requireMariaDb();
    await requireRedis();
    project = createProject({
      driver: 'mariadb',
      config: { cache: { url: REDIS_URL, prefix: '' } },
    });
    // The prefix goes with the token, as createProject sets it.
    const file = path.join(project.dir, 'afty.config.json');
    const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    written.cache!.prefix = `afty-test-${project.token}:`;
    writeFileSync(file, JSON.stringify(written, null, 2));
    writeStandardFixture(project.dir);
    configFile = file;
    process.env.AFTY_SECRET = TEST_SECRET;
    await project.createCentral();
    config = await Config.load(ROOT);
    for (const argv of [
      ['tenant:create', 'victim', '--domain', 'victim.test', '--migrate', '--seed'],
      ['tenant:create', 'other', '--domain', 'other.test'],
      ['backup:create', '--tenant', 'victim'],
      ['cache:warm'],
    ]) {
      const setup = await runInProcess(argv);
      assert.equal(setup.exit, 0, `${argv.join(' ')}: ${setup.stderr}`);
    }
  });
  after(async () => {
    process.env.AFTY_SECRET = savedSecret;
    await project?.cleanup();
  });

  /** [argv, what the one line must say] for every value-taking argument and flag. */
  function cases(): Array<[string[], RegExp]> {
    const list: Array<[string[], RegExp]> = [];
    const add = (argv: string[], pattern: RegExp) => list.push([argv, pattern]);
    const ids = hostileIds.filter((_, index) => index % 6 === 0);
    const any = /^Error: .+/;
    const missingTenant = /^Error: (no tenant with id or domain|invalid tenant id)/;

    for (const id of ids) {
      for (const command of [
        'tenant:show',
        'tenant:suspend',
        'tenant:block',
        'tenant:deactivate',
        'tenant:activate',
      ]) {
        add([command, '--', id], missingTenant);
      }
      add(['tenant:delete', '--force', '--no-backup', '--', id], missingTenant);
      add(['tenant:domain:list', '--', id], missingTenant);
      // Ids a registry may hold (stancl's, a mapping's) only find no archives; the rest are refused.
      if (!TENANT_KEY_PATTERN.test(id)) {
        add(['backup:list', '--tenant', id], /^Error: invalid tenant id/);
        add(['backup:prune', '--force', '--tenant', id], /^Error: invalid tenant id/);
      }
      add(['backup:restore', '--force', '--latest', '--tenant', id], missingTenant);
      add(['backup:restore', '--force', '--latest', '--tenant', 'victim', '--into', id], missingTenant);
      add(['db:snapshot', '--tenant', id, '--output', path.join(project.dir, 'snap.sql')], missingTenant);
      for (const command of [
        'db:migrate',
        'db:status',
        'db:seed',
        'db:unlock',
        'backup:create',
        'cache:clear',
        'diagnose',
      ]) {
        add(
          [command, '--force', '--tenant', id].filter(
            (arg) => arg !== '--force' || command === 'cache:clear',
          ),
          missingTenant,
        );
      }
      add(['tenant:run', '--tenant', id, '--', 'true'], missingTenant);
      add(['test', 'connections', '--tenant', id], missingTenant);
      add(['tenant:move', '--to', 'default', '--', id], missingTenant);
      add(['tenant:clone', '--', id, 'fresh'], missingTenant);
      add(['tenant:clone', 'victim', '--', id], any);
      add(['tenant:export', '--output', path.join(project.dir, 'out.tar'), '--', id], missingTenant);
      add(
        ['tenant:import', path.join(project.dir, 'missing.tar'), '--id', id],
        /^Error: (invalid tenant id|no file )/,
      );
    }
    for (const domain of hostileDomains.filter((_, index) => index % 8 === 0)) {
      add(['tenant:domain:remove', '--', domain], /^Error: (invalid domain|no domain|domain )/);
    }
    // Names and reasons: control and bidirectional-override characters, over-long text.
    for (const bad of [
      'Acme\u202eInc',
      'Acme\u2066Inc',
      'Acme\u200fInc',
      'Acme\u0000Inc',
      'Acme\u001bInc',
      'Acme\u2028Inc',
      'z'.repeat(192),
    ]) {
      add(['tenant:create', 'fresh', '--name', bad], /^Error: invalid tenant name/);
      add(['tenant:update', 'victim', '--name', bad], /^Error: invalid tenant name/);
    }
    for (const bad of ['why\u202e', 'why\u0007', 'r'.repeat(256), ' ', '']) {
      add(['tenant:suspend', 'victim', '--reason', bad], /^Error: invalid --reason/);
    }
    for (const bad of ['msg\u202e', 'msg\u0000', 'm'.repeat(1001), '']) {
      add(['tenant:update', 'victim', '--maintenance', 'on', '--message', bad], /^Error: invalid --message/);
    }
    // Settings values that smuggle a NUL in through JSON escapes.
    for (const value of [
      '"\\u0000"',
      '{"a":"\\u0000"}',
      '["x\\u0000"]',
      '{"\\u0000":1}',
      '{"a":{"b":"\\u0000"}}',
    ]) {
      add(['tenant:update', 'victim', '--set', `k=${value}`], /^Error: invalid value for setting "k": NUL/);
    }
    // IPs: zone ids, CIDR, ports, spaces.
    for (const ip of [
      'fe80::1%eth0',
      'fe80::1%25eth0',
      '10.0.0.0/8',
      '10.0.0.1:80',
      ' 10.0.0.1',
      '10.0.0.1 ',
      '::ffff:10.0.0.1%1',
    ]) {
      add(['tenant:update', 'victim', '--maintenance', 'on', '--allow-ip', ip], /^Error: invalid IP address/);
    }
    // Seeders: empty lists and extensions that are not the file's.
    for (const classes of [',', ' , ', ',,', '']) {
      add(['db:seed', '--tenant', 'victim', '--class', classes], /^Error: --class names no seeder/);
      add(
        ['tenant:create', 'fresh', '--migrate', '--seed', '--class', classes],
        /^Error: --class names no seeder/,
      );
    }
    for (const classes of [
      'Alpha.ts',
      'Alpha.mjs',
      'Beta.js',
      'DatabaseSeeder.cjs',
      'Nope',
      '../Alpha',
      'Alpha;Beta',
      'Alpha\u0000',
    ]) {
      add(['db:seed', '--tenant', 'victim', '--class', classes], /^Error: unknown seeder/);
      add(
        ['db:fresh', '--force', '--tenant', 'victim', '--seed', '--class', classes],
        /^Error: unknown seeder/,
      );
    }
    // Counts and sizes.
    for (const bad of BAD_COUNTS) {
      add(['db:migrate', '--all', '--concurrency', bad], any);
      add(['db:migrate', '--all', '--step', bad], any);
      add(['db:rollback', '--all', '--step', bad], any);
      add(['tenant:list', '--limit', bad], any);
      add(['backup:prune', '--all', '--force', '--keep', bad], any);
      add(['cache:stats', '--all', '--samples', bad], any);
      add(['test', 'isolation', '--sample', bad], any);
      add(['test', 'performance', '--duration', bad], any);
      add(['test', 'performance', '--workers', bad], any);
      add(['test', 'performance', '--max-latency', bad], any);
      add(['test', 'performance', '--max-connect', bad], any);
      if (bad !== '0') add(['tenant:update', 'victim', '--maintenance', 'on', '--retry-after', bad], any);
    }
    for (const bad of ['-1', 'abc', '1.5', '99999999999999999999']) {
      add(['tenant:list', '--offset', bad], any);
      add(['tenant:list', '--limit', bad], any);
      if (bad !== '99999999999999999999') add(['cache:stats', '--all', '--top', bad], any);
    }
    for (const bad of ['-1', '101', 'abc', '', ' ', 'NaN', 'Infinity', '1e3', '0x10', '5%']) {
      add(['test', 'performance', '--max-error-rate', bad], /^Error: --max-error-rate must be a percentage/);
    }
    for (const bad of ['257', '1000000'])
      add(['tenant:run', '--all', '--concurrency', bad, '--', 'true'], any);
    // Durations and ages.
    for (const bad of BAD_DURATIONS) {
      add(['cache:warm', '--ttl', bad], /^Error: (invalid --ttl|--ttl must)/);
      add(['backup:prune', '--all', '--force', '--max-age', bad], /^Error: invalid age/);
    }
    add(['cache:warm', '--ttl', '0'], /^Error: --ttl must be at least 1 second/);
    add(['cache:warm', '--ttl', '9999999999d'], /^Error: invalid --ttl/);
    // Search terms: control characters and over-long terms are refused; the rest match literally.
    for (const bad of ['a\u0000b', 'a\nb', 'a\u001bb', 'a\u202eb', 's'.repeat(300)]) {
      add(['tenant:list', '--search', bad], /^Error: invalid --search/);
    }
    for (const bad of ['idx', '-created,', 'name;drop', '--id', 'created desc', '']) {
      add(['tenant:list', '--sort', bad], /^Error: invalid --sort/);
    }
    for (const bad of ['deleted', 'provisioning ', 'ACTIVE', '']) {
      add(['tenant:list', '--status', bad], any);
      add(['db:migrate', '--status', bad], any);
    }
    add(['tenant:create', 'fresh', '--status', 'provisioning'], any);
    add(['tenant:create', 'fresh', '--server', 'nope'], /^Error: unknown server "nope"/);
    add(['tenant:move', 'victim', '--to', "x'; DROP TABLE afty_tenants; --"], /^Error: unknown server/);
    add(['tenant:clone', 'victim', 'fresh', '--server', 'nope'], /^Error: unknown server "nope"/);
    add(['tenant:import', path.join(project.dir, 'missing.tar'), '--server', 'nope'], /^Error: no file /);
    add(['servers:plan', '--balance', '--by', 'weight'], /^Error: /);
    add(
      ['tenant:export', 'victim', '--output', path.join(project.dir, 'no', 'such', 'dir.tar')],
      /^Error: tenant victim: folder .* does not exist/,
    );
    add(['tenant:create', 'fresh', '--server', "x'; DROP TABLE afty_tenants; --"], /^Error: unknown server/);
    // Cache tags and key patterns.
    for (const tag of ['', 'a\u0000b', 'a\nb', 't'.repeat(201)]) {
      add(['cache:clear', '--tenant', 'victim', '--tag', tag], /^Error: invalid cache tag/);
    }
    for (const key of ['', '[abc', 'a\u0000b', 'a\nb']) {
      add(['cache:clear', '--tenant', 'victim', '--key', key], /^Error: invalid key pattern/);
    }
    add(
      ['cache:clear', '--tenant', 'victim', '--key', 'a*', '--tag', 't'],
      /^Error: --tag and --key cannot be combined/,
    );
    // Categories of afty test.
    for (const category of ['nope', 'ALL', 'isolation,cache', '../etc', "'; DROP", '']) {
      add(['test', category], /^Error: unknown check category/);
    }
    // Paths: reports that cannot be written are refused before any check runs.
    for (const output of unwritablePaths(project.dir)) {
      add(['test', 'connections', '--output', output], /^Error: cannot write the report to /);
      add(['diagnose', '--output', output], /^Error: cannot write the report to /);
    }
    for (const output of ['/etc/hostname/schema.sql', project.dir, '/proc/afty-schema.sql', '']) {
      add(['db:snapshot', '--output', output], /^Error: cannot write the snapshot to /);
    }
    for (const file of notBackups(project.dir)) {
      add(['backup:verify', '--', file], /^Error: /);
      add(['backup:restore', '--force', '--tenant', 'victim', '--file', file], /^Error: /);
    }
    for (const file of ['/nonexistent-afty.json', project.dir, '/etc/passwd', '']) {
      list.push([
        ['tenant:list', '--config', file],
        /^Error: (config file|.+:\d+:\d+: not valid JSON|cannot load|--config is empty)/,
      ]);
    }
    // tenant run: the command goes after --, nothing else.
    add(['tenant:run', '--all', 'true'], /^Error: put the command after --/);
    add(['tenant:run', '--all', '--'], any);
    return list;
  }

  it('refuses each with exit 2 and one clear line, and changes no database, user, registry row, Redis key or file', async () => {
    const list = cases();
    assert.ok(list.length >= 600, `cases: ${list.length}`);
    const before = await state();
    const failures: string[] = [];
    for (const [argv, pattern] of list) {
      const result = await runInProcess(argv);
      const lines = result.stderr.trim().split('\n');
      if (
        result.exit !== 2 ||
        lines.length !== 1 ||
        !pattern.test(lines[0]!) ||
        /\n {4}at /.test(result.stderr)
      ) {
        failures.push(`${JSON.stringify(argv)} → exit ${result.exit}: ${result.stderr.trim()}`);
      }
    }
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.deepEqual(await state(), before);
  });

  it('warns about a hostile --exclude value in one line naming it, excludes nothing, and changes nothing', async () => {
    const before = await state();
    const failures: string[] = [];
    for (const id of hostileIds.filter((_, index) => index % 6 === 0)) {
      const result = await runInProcess(['db:status', '--all', '--exclude', id, '--json']);
      const tenants = result.exit === 0 ? (JSON.parse(result.stdout) as { tenants: unknown[] }).tenants : [];
      // stderr also has the run's progress lines; the warning is the one line before them.
      const warnings = result.stderr.split('\n').filter((line) => line.startsWith('warning:'));
      if (
        result.exit !== 0 ||
        tenants.length !== 2 ||
        warnings.length !== 1 ||
        !warnings[0]!.startsWith(`warning: --exclude ${describeValue(id)}: no tenant has that id or domain`)
      ) {
        failures.push(`${JSON.stringify(id)} → exit ${result.exit}: ${result.stderr.trim()}`);
      }
    }
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.deepEqual(await state(), before);
  });

  it('matches hostile search terms literally: nothing found, nothing changed', async () => {
    const before = await state();
    for (const term of ["'", '%', '_', '\\', "' OR 1=1 --", '`', '"', '*', '!', '%_%', 'UNION SELECT 1']) {
      const result = await runInProcess(['tenant:list', '--search', term, '--json']);
      assert.equal(result.exit, 0, `${term}: ${result.stderr}`);
      assert.deepEqual((JSON.parse(result.stdout) as { tenants: unknown[] }).tenants, [], term);
    }
    assert.deepEqual(await state(), before);
  });

  it('refuses hostile URLs in the environment and in init with exit 2 and one line, writing nothing', async () => {
    const before = await state();
    const failures: string[] = [];
    const initDir = mkdtempSync(path.join(os.tmpdir(), 'afty-init-'));
    const initConfig = path.join(initDir, 'afty.config.json');
    /** In this process (fast), with the settings in process.env and init working in initDir. */
    const inProcess = async (args: string[], extra: NodeJS.ProcessEnv, cwd: string) => {
      const saved = Object.fromEntries(Object.keys(extra).map((key) => [key, process.env[key]]));
      const savedCwd = process.cwd();
      Object.assign(process.env, extra);
      process.chdir(cwd);
      try {
        const argv = args[0] === 'init' ? [...args, '--config', initConfig] : args;
        const result = await runInProcess(argv);
        return { exitCode: result.exit, stderr: result.stderr };
      } finally {
        process.chdir(savedCwd);
        for (const [key, value] of Object.entries(saved))
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
      }
    };
    const throughBinary = (args: string[], extra: NodeJS.ProcessEnv, cwd: string) =>
      runCli(args, { cwd, env: { ...project.env, ...extra } });
    try {
      const tryIt = async (run: typeof inProcess, args: string[], extra: NodeJS.ProcessEnv, cwd: string) => {
        const result = await run(args, extra, cwd);
        const lines = result.stderr.trim().split('\n');
        const written = readdirSync(initDir);
        if (
          result.exitCode !== 2 ||
          lines.length !== 1 ||
          !/^Error: .*(AFTY_|--central|--server|--redis)/.test(lines[0]!) ||
          written.length > 0
        ) {
          failures.push(
            `${JSON.stringify({ args, extra })} → exit ${result.exitCode}: ${result.stderr.trim()}${written.length ? ` (wrote ${written.join(', ')})` : ''}`,
          );
          rmSync(initDir, { recursive: true, force: true });
          mkdirSync(initDir);
        }
      };
      const databaseCases = (url: string): Array<[string[], NodeJS.ProcessEnv, string]> => [
        [['tenant:list'], { AFTY_CENTRAL_URL: url }, project.dir],
        [['tenant:show', 'victim'], { AFTY_SERVER_URL: url }, project.dir],
        [['init', '--yes', '--central', url], {}, initDir],
        [['init', '--yes', '--server', url], {}, initDir],
      ];
      const redisCases = (url: string): Array<[string[], NodeJS.ProcessEnv, string]> => [
        [['cache:status'], { AFTY_REDIS_URL: url }, project.dir],
        [['init', '--yes', '--redis', url], {}, initDir],
      ];
      const all = [...BAD_DATABASE_URLS.flatMap(databaseCases), ...BAD_REDIS_URLS.flatMap(redisCases)];
      for (const [args, extra, cwd] of all) await tryIt(inProcess, args, extra, cwd);
      // The real binary reads the same settings from its own environment: one of each kind.
      for (const [args, extra, cwd] of [
        ...databaseCases(BAD_DATABASE_URLS[0]!),
        ...redisCases(BAD_REDIS_URLS[0]!),
      ])
        await tryIt(throughBinary, [...args[0]!.split(':'), ...args.slice(1)], extra, cwd);
    } finally {
      rmSync(initDir, { recursive: true, force: true });
    }
    assert.deepEqual(failures, [], failures.join('\n'));
    assert.deepEqual(await state(), before);
  });
});
