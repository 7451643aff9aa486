import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, ROOT, runCli, type CliResult } from '../support/cli.js';

const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<string, unknown>;
};
// Every topic: each proper prefix of a command id ('tenant', 'tenant:domain', …), as words.
const topics = [
  ...new Set(
    Object.keys(manifest.commands).flatMap((id) =>
      id
        .split(':')
        .slice(0, -1)
        .map((_, n, parts) => parts.slice(0, n + 1).join(' ')),
    ),
  ),
]
  .sort()
  .map((topic) => topic.split(' '));

/** Like runCli, but keeps the output byte for byte (runCli drops the final newline). */
async function run(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<CliResult> {
  const result = await execa('node', [BIN, ...args], {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    timeout: 120_000,
  });
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
}

describe('bin/run.js start-up', function () {
  this.timeout(180_000);
  let home: string;
  let blockOclif: string;
  // A HOME of its own, so no user plugins or themes on this machine change what oclif does.
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ PATH: process.env.PATH, HOME: home, ...extra });

  before(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'afty-startup-'));
    // Loaded with --import: importing oclif (bundled, through bin/bundle.js, or @oclif/core itself)
    // fails, so output means the fast path answered.
    blockOclif = path.join(home, 'block-oclif.mjs');
    const hook =
      'export async function resolve(specifier, context, next) {' +
      " if (specifier === './bundle.js' || specifier === '@oclif/core' || specifier.startsWith('@oclif/core/'))" +
      " throw new Error('fast path not taken: oclif imported');" +
      ' return next(specifier, context); }';
    writeFileSync(
      blockOclif,
      `import { register } from 'node:module';\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});\n`,
    );
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  /** Runs args on the fast path and through oclif alone (AFTY_NO_FAST_PATH=1); asserts equality. */
  async function assertSameAsOclif(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const [fast, oclif] = await Promise.all([
      run(args, env(extra), home),
      run(args, env({ ...extra, AFTY_NO_FAST_PATH: '1' }), home),
    ]);
    const label = `afty ${args.join(' ')} ${JSON.stringify(extra)}`;
    assert.deepEqual(fast, oclif, `${label}: fast path differs from oclif`);
    return fast;
  }

  /** Whether `afty args` is answered without loading @oclif/core. */
  async function takesFastPath(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<boolean> {
    const result = await run(
      args,
      env({ ...extra, NODE_OPTIONS: `--import=${pathToFileURL(blockOclif)}` }),
      home,
    );
    assert.ok(
      result.exitCode === 0 || result.stderr.includes('fast path not taken'),
      `afty ${args.join(' ')}: unexpected failure ${result.exitCode}\n${result.stderr}`,
    );
    return result.exitCode === 0;
  }

  it('answers --version on its fast path exactly as oclif does', async () => {
    const fast = await runCli(['--version'], { cwd: os.tmpdir(), env: { PATH: process.env.PATH } });
    const oclif = await runCli(['--version'], {
      cwd: os.tmpdir(),
      env: { PATH: process.env.PATH, AFTY_NO_FAST_PATH: '1' },
    });
    assert.equal(fast.exitCode, 0);
    assert.match(fast.stdout, /^afty\/\d+\.\d+\.\d+ \S+ node-v\d+/);
    assert.deepEqual(fast, oclif);
  });

  it('shows topic help with every tenant command', async () => {
    const help = await runCli(['tenant', '--help'], { cwd: os.tmpdir(), env: { PATH: process.env.PATH } });
    assert.equal(help.exitCode, 0);
    for (const verb of [
      'activate',
      'block',
      'create',
      'deactivate',
      'delete',
      'list',
      'run',
      'show',
      'suspend',
      'update',
    ]) {
      assert.match(help.stdout, new RegExp(`^  tenant ${verb} `, 'm'));
    }
    assert.match(help.stdout, /^ {2}tenant domain {2}Manage a tenant's domains$/m);
  });

  it('finds the topics to check in the manifest', () => {
    assert.ok(topics.length >= 5, `topics: ${JSON.stringify(topics)}`);
    assert.ok(
      topics.some((words) => words.join(' ') === 'tenant domain'),
      `nested topic missing: ${JSON.stringify(topics)}`,
    );
  });

  for (const columns of [undefined, '40', '100', '200']) {
    it(`prints root and topic help exactly as oclif does, ${columns ?? 'default (80)'} columns`, async () => {
      const extra = columns ? { OCLIF_COLUMNS: columns } : {};
      for (const words of [[], ...topics]) {
        const result = await assertSameAsOclif([...words, '--help'], extra);
        assert.equal(result.exitCode, 0, `afty ${words.join(' ')} --help: ${result.stderr}`);
        assert.ok(
          result.stdout.includes('USAGE\n  $ afty '),
          `afty ${words.join(' ')} --help:\n${result.stdout}`,
        );
      }
    });
  }

  it('prints the same help for `afty`, `afty help [TOPIC]` and `afty TOPIC`', async () => {
    const forms = [[], ['help'], ...topics.flatMap((words) => [words, ['help', ...words]])];
    await Promise.all(forms.map((args) => assertSameAsOclif(args)));
  });

  it('takes the fast path: root and topic help never load @oclif/core', async () => {
    const forms = [
      ['--version'],
      [],
      ['--help'],
      ['help'],
      ...topics.flatMap((words) => [words, [...words, '--help'], ['help', ...words]]),
    ];
    for (const args of forms) {
      assert.ok(await takesFastPath(args), `afty ${args.join(' ')} loaded @oclif/core`);
      assert.ok(await takesFastPath(args, { OCLIF_COLUMNS: '200' }), `afty ${args.join(' ')} at 200 columns`);
    }
  });

  it('leaves everything it cannot reproduce to oclif', async () => {
    const oclifCases: Array<[string[], NodeJS.ProcessEnv]> = [
      [['tenant', 'create', '--help'], {}], // command help
      [['tenant', 'nope'], {}],
      [['help', 'nope'], {}],
      [['help', '--help'], {}],
      [['tenant', '--help'], { FORCE_COLOR: '1' }], // colour
      [['tenant', '--help'], { OCLIF_COLUMNS: '39' }],
      [['--help'], { DEBUG: 'nothing-in-particular' }],
      [['--help'], { AFTY_DEBUG: '1' }],
    ];
    for (const [args, extra] of oclifCases) {
      assert.ok(!(await takesFastPath(args, extra)), `afty ${args.join(' ')} ${JSON.stringify(extra)}`);
      await assertSameAsOclif(args, extra);
    }
    // User plugins (which may add commands or hooks) live in the data folder's package.json.
    const data = path.join(home, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'package.json'), '{"oclif":{"plugins":[]}}\n');
    for (const args of [['--version'], ['--help'], ['tenant']]) {
      assert.ok(
        !(await takesFastPath(args, { AFTY_DATA_DIR: data })),
        `afty ${args.join(' ')} with user plugins`,
      );
    }
  });

  it('wraps to the terminal width when stdout is a terminal (util-linux `script`)', async () => {
    for (const columns of [100, 50]) {
      for (const args of [['--help'], ['tenant', '--help']]) {
        // stderr is not the terminal, so oclif prints no colour and the fast path answers.
        const command = `stty cols ${columns}; node '${BIN}' ${args.join(' ')} 2>/dev/null`;
        const inTerminal = (extra: NodeJS.ProcessEnv) =>
          execa('script', ['-qec', command, '/dev/null'], { cwd: home, env: env(extra), extendEnv: false });
        const [fast, oclif, blocked] = await Promise.all([
          inTerminal({}),
          inTerminal({ AFTY_NO_FAST_PATH: '1' }),
          inTerminal({ NODE_OPTIONS: `--import=${pathToFileURL(blockOclif)}` }), // empty unless fast
        ]);
        assert.equal(fast.stdout, oclif.stdout, `${columns} columns, afty ${args.join(' ')}`);
        assert.equal(blocked.stdout, oclif.stdout, `${columns} columns, afty ${args.join(' ')}: not fast`);
        assert.ok(
          fast.stdout.includes('USAGE'),
          `${columns} columns, afty ${args.join(' ')}:\n${fast.stdout}`,
        );
      }
    }
  });
});
