import { Command, Flags, type Interfaces } from '@oclif/core';
import os from 'node:os';
import type { AftyConfig } from '../config/index.js';
import type { AftyContext } from '../context.js';
import {
  AftyError,
  ExitCode,
  InputError,
  driverFailure,
  errorMessage,
  isConnectionError,
  type ExitCodeValue,
} from '../errors.js';
import type { FleetSelection } from '../fleet/index.js';
import type { TenantRecord } from '../registry/index.js';
import type { TenantStatus } from '../validation/index.js';
import { colorErr } from './output.js';
import { statusLine } from './status-line.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/** The parsed selection flags (see flags.ts). */
export interface SelectionFlagValues {
  tenant?: string[];
  all: boolean;
  status?: string[];
  server?: string[];
  exclude?: string[];
  shard?: string;
}

const SECRET_FLAGS = /^--?(password|secret|token|key)(=|$)/i;

/** Arguments for the audit log: URL passwords and values of secret flags are redacted. */
export function redactArguments(argv: string[]): string[] {
  const redacted: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!.replace(/(\w+:\/\/[^:/@\s]+):[^@\s]*@/g, '$1:***@');
    const secretFlag = SECRET_FLAGS.exec(arg);
    if (secretFlag) {
      redacted.push(secretFlag[2] === '=' ? `${arg.slice(0, arg.indexOf('=') + 1)}***` : arg);
      if (secretFlag[2] !== '=' && index + 1 < argv.length) {
        redacted.push('***');
        index += 1;
      }
      continue;
    }
    redacted.push(arg);
  }
  return redacted;
}

/**
 * oclif's parse errors span lines ("Parsing --samples", then the reason, then "See more help");
 * this keeps what says what is wrong, on one line.
 */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter(
      (line) => line && !/^See more help/.test(line) && !/^The following errors? occurred:?$/.test(line),
    )
    .join(' ');
}

/** Maps any error to its exit code (README, "Output and exit codes"). */
export function exitCodeOf(error: unknown): ExitCodeValue {
  if (error instanceof AftyError) return error.exitCode;
  const oclifExit = (error as { oclif?: { exit?: number } })?.oclif?.exit;
  if (typeof oclifExit === 'number') return oclifExit === 0 ? 0 : oclifExit === 2 ? 2 : 1;
  if (driverFailure(error) === 'login') return ExitCode.invalidInput;
  if (isConnectionError(error)) return ExitCode.serviceUnavailable;
  return ExitCode.failed;
}

/**
 * Every afty command: --json/--config/--verbose, one-line errors with their exit codes
 * (kept under --json), config + context loaded on demand, audit rows for mutating commands.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static enableJsonFlag = true;
  /** Mutating commands write an audit row with their outcome. */
  static audited = false;

  static baseFlags = {
    config: Flags.string({
      description: 'config file (default: afty.config.json found from the cwd upward)',
      helpGroup: 'GLOBAL',
    }),
    verbose: Flags.boolean({ description: 'show stack traces and more detail', helpGroup: 'GLOBAL' }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  /** The tenant an audited command acted on, for the audit row. */
  protected auditTenant?: string;
  private contextPromise?: Promise<AftyContext>;

  /**
   * Every parse, whichever command and however it is called: oclif fills a missing positional
   * argument from piped stdin (`echo acme | afty tenant delete --force` deleted acme), so each
   * argument is marked ignoreStdin. A missing argument is then a missing argument.
   */
  protected override async parse<
    F extends Interfaces.OutputFlags<Interfaces.FlagInput>,
    B extends Interfaces.OutputFlags<Interfaces.FlagInput>,
    A extends Interfaces.OutputArgs<Interfaces.ArgInput>,
  >(options?: Interfaces.Input<F, B, A>, argv?: string[]): Promise<Interfaces.ParserOutput<F, B, A>> {
    const input = options ?? (this.ctor as unknown as Interfaces.Input<F, B, A>);
    const args = Object.fromEntries(
      Object.entries(input.args ?? {}).map(([name, arg]) => [name, { ...arg, ignoreStdin: true }]),
    ) as typeof input.args;
    return super.parse(
      {
        ...input,
        flags: input.flags,
        baseFlags: input.baseFlags,
        enableJsonFlag: input.enableJsonFlag,
        strict: input.strict,
        args,
      },
      argv,
    );
  }

  public async init(): Promise<void> {
    await super.init();
    const { flags, args } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    // A terminal sees the command working at once, until its first output.
    statusLine.show(`${this.id?.replace(/:/g, ' ') ?? 'afty'}…`);
  }

  public log(message = '', ...args: unknown[]): void {
    statusLine.clear();
    super.log(message, ...args);
  }

  public logToStderr(message = '', ...args: unknown[]): void {
    statusLine.clear();
    super.logToStderr(message, ...args);
  }

  /** Loads config and opens the context once; config warnings go to stderr. */
  protected context(): Promise<AftyContext> {
    this.contextPromise ??= (async () => {
      const [{ loadConfig }, { AftyContext }] = await Promise.all([
        import('../config/index.js'),
        import('../context.js'),
      ]);
      const config: AftyConfig = await loadConfig({ configPath: this.flags?.config });
      for (const warning of config.warnings) this.notice(colorErr.yellow(`warning: ${warning}`));
      return new AftyContext(config);
    })();
    return this.contextPromise;
  }

  /**
   * JSON straight to stdout. oclif's version colourises by tokenising the whole document, which
   * for a 10,000-tenant list costs seconds and a hundred MB; scripts want plain JSON anyway.
   */
  public logJson(json: unknown): void {
    statusLine.clear();
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  }

  /** Writes progress and notes to stderr so stdout stays parseable. */
  protected note(message: string): void {
    this.logToStderr(message);
  }

  /**
   * A warning or a fact about the selection, on stderr even with --json (where oclif silences its
   * own log methods): a script must still learn that it ran on a shard, or that a key was ignored.
   */
  protected notice(message: string): void {
    statusLine.clear();
    process.stderr.write(`${message}\n`);
  }

  protected selection(flags: SelectionFlagValues): FleetSelection {
    return {
      tenants: flags.tenant ?? [],
      all: flags.all,
      status: (flags.status ?? []) as TenantStatus[],
      server: flags.server ?? [],
      exclude: flags.exclude ?? [],
    };
  }

  /**
   * Resolves fleet selection flags to tenants. With none given, a picker in a terminal and an
   * error otherwise; `--all` on an empty registry is fine (nothing to do).
   */
  protected async selectTenants(flags: SelectionFlagValues): Promise<TenantRecord[]> {
    const ctx = await this.context();
    const registry = await ctx.registry();
    const { isEmptySelection, selectTenants } = await import('../fleet/index.js');
    const selection = this.selection(flags);
    const { resolveShard, selectShard } = await import('../fleet/rollout.js');
    // A CI job's index shards a fleet, not the tenants an operator named.
    const shard =
      flags.shard === undefined && selection.tenants.length > 0
        ? undefined
        : resolveShard(flags.shard, process.env, ctx.config.shards);
    if (!isEmptySelection(selection) || shard) {
      // A named half-created tenant is refused with its remedy, not silently left out.
      const { assertProvisioned, resolveTenant } = await import('../tenants/index.js');
      for (const key of selection.tenants)
        await assertProvisioned(registry, await resolveTenant(registry, key));
      const tenants = await selectTenants(
        registry,
        isEmptySelection(selection) ? { ...selection, all: true } : selection,
        {
          knownServers: ctx.servers.names,
          warn: (message) => this.notice(colorErr.yellow(`warning: ${message}`)),
        },
      );
      if (tenants.length === 0 && selection.tenants.length > 0) {
        throw new InputError('the named tenants are excluded by the other selection flags');
      }
      if (!shard) return tenants;
      const share = selectShard(tenants, shard);
      this.notice(
        `shard ${shard.index}/${shard.total} (${shard.source}): ${share.length} of ${tenants.length} tenants`,
      );
      return share;
    }
    const { askChoices } = await import('./prompts.js');
    const candidates = await registry.listTenants({});
    if (candidates.length === 0) {
      throw new InputError('there are no tenants yet', { hint: 'create one with afty tenant create ID' });
    }
    const picked = await askChoices(
      'Which tenants?',
      candidates.map((tenant) => ({ value: tenant.id, name: `${tenant.id} (${tenant.status})` })),
      '--tenant ID (repeatable) or --all',
    );
    return candidates.filter((tenant) => picked.includes(tenant.id));
  }

  /** --concurrency, else AFTY_CONCURRENCY / config, else min(4, cores×2). */
  protected async concurrency(flag: number | undefined): Promise<number> {
    return flag ?? (await this.context()).config.concurrency;
  }

  protected async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    const code = error.name === 'ExitPromptError' ? ExitCode.failed : exitCodeOf(error);
    process.exitCode = code;
    const oclifParse = (error as { oclif?: unknown }).oclif !== undefined && !(error instanceof AftyError);
    const message = error.name === 'ExitPromptError' ? 'cancelled, nothing was changed' : errorMessage(error);
    const line = oclifParse
      ? `${oneLine(message)} (see afty ${this.id?.replace(/:/g, ' ') ?? ''} --help)`
      : message;
    if (this.jsonEnabled()) {
      this.logJson({
        error: {
          code:
            error instanceof AftyError
              ? error.code
              : code === 2
                ? 'invalid_input'
                : code === 3
                  ? 'service_unavailable'
                  : 'failed',
          message: line,
          exitCode: code,
          tenant: error instanceof AftyError ? (error.tenant ?? null) : null,
        },
      });
    } else {
      this.logToStderr(`${colorErr.red('Error:')} ${line}`);
    }
    if (this.flags?.verbose || process.env.DEBUG?.includes('afty'))
      this.logToStderr(error.stack ?? String(error));
    this.exit(code);
  }

  protected async finally(error: Error | undefined): Promise<unknown> {
    statusLine.clear();
    try {
      if ((this.ctor as typeof BaseCommand).audited) await this.writeAudit(error);
    } finally {
      const context = this.contextPromise;
      this.contextPromise = undefined;
      if (context) await context.then((ctx) => ctx.close()).catch(() => {});
    }
    return super.finally(error);
  }

  private async writeAudit(error: Error | undefined): Promise<void> {
    const registry = this.contextPromise
      ? (await this.contextPromise.catch(() => undefined))?.openedRegistry()
      : undefined;
    if (!registry) return;
    const exit = error
      ? ((error as { oclif?: { exit?: number } }).oclif?.exit ?? 1)
      : Number(process.exitCode ?? 0);
    try {
      await (
        await registry
      ).recordAudit({
        actor: process.env.AFTY_ACTOR || `${os.userInfo().username}@${os.hostname()}`,
        command: this.id ?? 'unknown',
        tenantId: this.auditTenant ?? null,
        outcome: exit === 0 ? 'ok' : 'failed',
        arguments: redactArguments(this.argv),
        error: error && !(error.name === 'ExitError') ? errorMessage(error) : null,
      });
    } catch (auditError) {
      this.logToStderr(
        colorErr.yellow(`warning: could not write the audit row: ${errorMessage(auditError)}`),
      );
    }
  }
}
