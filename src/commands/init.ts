import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/ui/base-command.js';

interface InitResult {
  config: string;
  checks: Array<{ name: string; url: string; ok: boolean; detail: string }>;
  registry: string;
}

export default class Init extends BaseCommand<typeof Init> {
  static summary = 'Write afty.config.json, test each connection and create the central registry';
  static description =
    'In a terminal it asks for each value (defaults offered). With --yes it uses the flags and defaults without questions. It never overwrites an existing config without --force. Passwords in URLs are better kept out of the file: afty reads AFTY_CENTRAL_URL, AFTY_SERVER_URL and AFTY_REDIS_URL from the environment or .env.';
  static examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --yes',
    '<%= config.bin %> init --yes --central mysql://root@127.0.0.1:3306/afty --server mysql://root@127.0.0.1:3306 --redis redis://127.0.0.1:6379/0',
  ];
  static audited = true;

  static flags = {
    central: Flags.string({ description: 'central registry URL [default: sqlite:.afty/central.sqlite]' }),
    server: Flags.string({
      description: 'default tenant database server URL [default: sqlite:.afty/tenants]',
    }),
    redis: Flags.string({ description: 'Redis URL for the cache (omit for the database cache store)' }),
    migrations: Flags.string({ description: 'tenant migrations directory [default: migrations/tenant]' }),
    seeds: Flags.string({ description: 'tenant seeds directory [default: seeds/tenant]' }),
    yes: Flags.boolean({ char: 'y', description: 'no questions: use the flags and defaults' }),
    force: Flags.boolean({ char: 'f', description: 'overwrite an existing config file' }),
  };

  async run(): Promise<InitResult> {
    const [
      { INIT_DEFAULTS, checkConnections, writeConfigFile },
      { canPrompt, askText },
      { InputError, ServiceError },
      path,
    ] = await Promise.all([
      import('../lib/config/init.js'),
      import('../lib/ui/prompts.js'),
      import('../lib/errors.js'),
      import('node:path'),
    ]);
    const { existsSync } = await import('node:fs');
    const file = path.resolve(this.flags.config ?? 'afty.config.json');
    if (existsSync(file) && !this.flags.force) {
      throw new InputError(`${file} already exists`, { hint: 'pass --force to overwrite it' });
    }
    if (!this.flags.yes && !canPrompt()) {
      throw new InputError('afty init needs answers', {
        hint: 'pass --yes (with --central/--server/--redis as needed)',
      });
    }
    const ask = async (
      message: string,
      value: string | undefined,
      fallback: string | undefined,
      flag: string,
    ) => value ?? (this.flags.yes ? fallback : await askText(message, fallback, flag));
    // Asked in this order: central, server, Redis, migrations, seeds.
    const central = (await ask(
      'Central registry URL',
      this.flags.central,
      INIT_DEFAULTS.central,
      '--central',
    ))!;
    const server = (await ask(
      'Tenant database server URL',
      this.flags.server,
      INIT_DEFAULTS.server,
      '--server',
    ))!;
    const redis = await ask(
      'Redis URL (empty: cache in each tenant database)',
      this.flags.redis,
      this.flags.yes ? undefined : '',
      '--redis',
    );
    const answers = {
      central,
      server,
      redis: redis || undefined,
      migrations: (await ask(
        'Tenant migrations directory',
        this.flags.migrations,
        INIT_DEFAULTS.migrations,
        '--migrations',
      ))!,
      seeds: (await ask('Tenant seeds directory', this.flags.seeds, INIT_DEFAULTS.seeds, '--seeds'))!,
    };

    const checks = await checkConnections(answers, path.dirname(file));
    for (const check of checks)
      this.note(`${check.ok ? '✓' : '✗'} ${check.name}: ${check.url} — ${check.detail}`);
    const failed = checks.find((check) => !check.ok);
    if (failed) {
      throw new ServiceError(`cannot connect to the ${failed.name} at ${failed.url}: ${failed.detail}`, {
        hint: 'fix the URL or start the service, then run afty init again (nothing was written)',
      });
    }

    writeConfigFile(file, answers, this.flags.force);
    this.flags.config = file;
    const { Registry, registrySchemaVersion } = await import('../lib/registry/index.js');
    const ctx = await this.context();
    await Registry.createDatabase(ctx.config.central);
    const registry = await ctx.registry();
    const version = await registrySchemaVersion(registry.db);
    this.log(`Wrote ${file} and created the central registry (schema ${version}).`);
    this.log('Next: afty tenant create ID --domain ID.example.com');
    return { config: file, checks, registry: version ?? 'unknown' };
  }
}
