import { Config } from '@oclif/core';
import { captureOutput } from '@oclif/test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT, runCli } from '../support/cli.js';
import { createProject, TEST_SECRET, type TestProject } from '../support/project.js';
import { mariadbAdmin, requireMariaDb } from '../support/services.js';

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

  /** Runs a command in this process; positional values go after `--` so a leading `-` stays a value. */
  async function runInProcess(argv: string[]): Promise<{ exit: number; stderr: string; stdout: string }> {
    const { error, stderr, stdout } = await captureOutput(() =>
      config.runCommand(argv[0]!, ['--config', configFile, ...argv.slice(1)]),
    );
    process.exitCode = undefined;
    const exit = error ? ((error as { oclif?: { exit?: number } }).oclif?.exit ?? 1) : 0;
    return { exit, stderr, stdout };
  }

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
    assert.deepEqual(failures, []);
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
