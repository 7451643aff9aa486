import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/ui/base-command.js';

interface InitResult {
  config: string;
  /** false: the config existed and was left as it was (init created or upgraded its registry). */
  written: boolean;
  checks: Array<{ name: string; url: string; ok: boolean; detail: string }>;
  registry: string;
}

/** The questions init asks, in order, with the flag that answers each. */
const QUESTIONS = [
  ['central', 'Central registry URL', '--central'],
  ['server', 'Tenant database server URL', '--server'],
  ['redis', 'Redis URL (empty: cache in each tenant database)', '--redis'],
  ['databasePrefix', 'Tenant database prefix', '--database-prefix'],
  ['migrations', 'Tenant migrations directory', '--migrations'],
  ['seeds', 'Tenant seeds directory', '--seeds'],
] as const;

export default class Init extends BaseCommand<typeof Init> {
  static summary = 'Write afty.config.json, test each connection and create the central registry';
  static description =
    'In a terminal it asks for each value (defaults offered). With --yes it uses the flags and defaults without questions. On an existing config it leaves the file as it is and creates or upgrades the registry it names (the central MySQL database too, when the account may create it). --force rewrites the file with the values asked or given and keeps every other key. The config is written with mode 0600. Passwords in URLs are better kept out of the file: afty reads AFTY_CENTRAL_URL, AFTY_SERVER_URL and AFTY_REDIS_URL from the environment or .env.';
  static examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --yes',
    '<%= config.bin %> init --yes --central mysql://root@127.0.0.1:3306/afty --server mysql://root@127.0.0.1:3306 --redis redis://127.0.0.1:6379/0',
    '<%= config.bin %> init --force --yes --database-prefix acme_',
  ];
  static audited = true;

  static flags = {
    central: Flags.string({ description: 'central registry URL [default: sqlite:.afty/central.sqlite]' }),
    server: Flags.string({
      description: 'default tenant database server URL [default: sqlite:.afty/tenants]',
    }),
    redis: Flags.string({ description: 'Redis URL for the cache (omit for the database cache store)' }),
    'database-prefix': Flags.string({
      description: 'prefix of tenant database and user names, a-z 0-9 _ [default: tenant_]',
    }),
    migrations: Flags.string({ description: 'tenant migrations directory [default: migrations/tenant]' }),
    seeds: Flags.string({ description: 'tenant seeds directory [default: seeds/tenant]' }),
    yes: Flags.boolean({ char: 'y', description: 'no questions: use the flags and defaults' }),
    force: Flags.boolean({
      char: 'f',
      description: 'rewrite an existing config with the values given (other keys are kept)',
    }),
  };

  async run(): Promise<InitResult> {
    const [init, { canPrompt, askText }, { InputError }, path, { existsSync }] = await Promise.all([
      import('../lib/config/init.js'),
      import('../lib/ui/prompts.js'),
      import('../lib/errors.js'),
      import('node:path'),
      import('node:fs'),
    ]);
    const file = path.resolve(this.flags.config ?? 'afty.config.json');
    const given: Partial<Record<(typeof QUESTIONS)[number][0], string>> = {
      central: this.flags.central,
      server: this.flags.server,
      redis: this.flags.redis,
      databasePrefix:
        this.flags['database-prefix'] === undefined
          ? undefined
          : init.validateDatabasePrefix(this.flags['database-prefix'], '--database-prefix'),
      migrations: this.flags.migrations,
      seeds: this.flags.seeds,
    };
    const exists = existsSync(file);
    if (exists && !this.flags.force) {
      const changing = QUESTIONS.filter(([key]) => given[key] !== undefined).map(([, , flag]) => flag);
      if (changing.length > 0) {
        throw new InputError(`${file} already exists and ${changing.join(', ')} would change it`, {
          hint: 'pass --force to rewrite it with these values (every other key is kept), or leave them out to create or upgrade its registry',
        });
      }
      return this.prepareExisting(file);
    }
    if (!this.flags.yes && !canPrompt()) {
      throw new InputError('afty init needs answers', {
        hint: 'pass --yes (with --central/--server/--redis as needed)',
      });
    }
    // --force: what the file says is what is offered (and what --yes keeps), not the defaults.
    const existing = exists ? init.readConfigDocument(file) : undefined;
    const current = existing ? init.answersOf(existing) : {};
    const answers = { ...init.INIT_DEFAULTS };
    for (const [key, message, flag] of QUESTIONS) {
      const fallback = current[key] ?? (key === 'redis' ? undefined : init.INIT_DEFAULTS[key]);
      const value = given[key] ?? (this.flags.yes ? fallback : await askText(message, fallback ?? '', flag));
      answers[key] = key === 'databasePrefix' ? init.validateDatabasePrefix(value!, message) : value!;
    }
    answers.redis = answers.redis || undefined;

    const baseDir = path.dirname(file);
    const checks = await init.checkConnections(answers, baseDir);
    await this.reportChecks(checks, 'nothing was written');
    const document = existing
      ? init.updatedConfigDocument(existing, answers)
      : init.initConfigDocument(answers);
    const directories = init.documentDirectories(document, baseDir);
    init.checkDirectories(directories);
    init.writeConfigFile(file, document);
    this.noteCreated(init.createScriptDirectories(directories));
    this.flags.config = file;
    const version = await this.createRegistry();
    this.log(`Wrote ${file} (mode 0600) and created the central registry (schema ${version}).`);
    this.log('Next: afty tenant create ID --domain ID.example.com');
    return { config: file, written: true, checks, registry: version };
  }

  /** An existing config is kept byte for byte: init checks what it names and readies its registry. */
  private async prepareExisting(file: string): Promise<InitResult> {
    const { checkConfigConnections, checkDirectories, createScriptDirectories } =
      await import('../lib/config/init.js');
    this.flags.config = file;
    const { config } = await this.context();
    const checks = await checkConfigConnections(config);
    await this.reportChecks(checks, `${file} was left as it is`);
    const directories: Array<[string, string]> = [
      ['migrations.directory', config.migrations.directory],
      ['seeds.directory', config.seeds.directory],
      ['backup.directory', config.backup.directory],
    ];
    checkDirectories(directories);
    const version = await this.createRegistry();
    this.noteCreated(createScriptDirectories(directories));
    this.log(`Kept ${file} as it is; the central registry is ready (schema ${version}).`);
    this.log('To change the file: afty init --force (with flags for what changes; other keys are kept).');
    return { config: file, written: false, checks, registry: version };
  }

  private noteCreated(directories: string[]): void {
    for (const directory of directories) this.note(`created ${directory}`);
  }

  /** Prints each check; the first that failed is the error (exit 3), and says what was left alone. */
  private async reportChecks(checks: InitResult['checks'], unchanged: string): Promise<void> {
    for (const check of checks)
      this.note(`${check.ok ? '✓' : '✗'} ${check.name}: ${check.url} — ${check.detail}`);
    const failed = checks.find((check) => !check.ok);
    if (failed) {
      const { ServiceError } = await import('../lib/errors.js');
      throw new ServiceError(`cannot connect to the ${failed.name} at ${failed.url}: ${failed.detail}`, {
        hint: `fix the URL or start the service, then run afty init again (${unchanged})`,
      });
    }
  }

  /** Creates the central database when it is missing (and the account may), then its schema. */
  private async createRegistry(): Promise<string> {
    const { Registry, registrySchemaVersion } = await import('../lib/registry/index.js');
    const ctx = await this.context();
    await Registry.createDatabase(ctx.config.central);
    const registry = await ctx.registry();
    return (await registrySchemaVersion(registry.db)) ?? 'unknown';
  }
}
