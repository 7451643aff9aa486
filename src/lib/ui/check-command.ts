import type { Command } from '@oclif/core';
import type { CheckSessionOptions } from '../checks/runner.js';
import type { CheckReport, ReporterName } from '../checks/types.js';
import { FleetCommand } from './fleet-command.js';
import { statusLine } from './status-line.js';

/** `afty test` and `afty diagnose`: both end by reporting and deriving the exit code from the results. */
export abstract class CheckReportCommand<T extends typeof Command> extends FleetCommand<T> {
  /** A report that could not be written must fail before the checks run, not after. */
  public async init(): Promise<void> {
    await super.init();
    const flags = this.flags as { reporter: string; output?: string };
    const { assertReportOptions } = await import('./check-reporters.js');
    await assertReportOptions({
      reporter: flags.reporter as ReporterName,
      output: flags.output,
      json: this.jsonEnabled(),
    });
  }

  /** Runs the session with its per-tenant checks on the fleet engine (progress view, Ctrl-C). */
  protected async runSession(session: Omit<CheckSessionOptions, 'runTenants'>): Promise<CheckReport> {
    const { runCheckSession } = await import('../checks/index.js');
    const scheduler = await this.scheduler(session.command);
    try {
      return await runCheckSession({
        ...session,
        runTenants: (tenants, work) => scheduler.run(tenants, work),
        onCheckStarted: (check) => statusLine.show(`${session.command}: ${check.id}`),
      });
    } finally {
      scheduler.close();
    }
  }

  protected async finish(
    report: CheckReport,
    flags: { reporter: string; output?: string },
  ): Promise<CheckReport> {
    const [{ reportExitCode }, { presentReport }, { signalExitCode }] = await Promise.all([
      import('../checks/index.js'),
      import('./check-reporters.js'),
      import('../fleet/index.js'),
    ]);
    process.exitCode = report.interrupted
      ? signalExitCode(report.interrupted)
      : reportExitCode(report.results);
    return presentReport(report, {
      reporter: flags.reporter as ReporterName,
      output: flags.output,
      json: this.jsonEnabled(),
      log: (text) => this.log(text),
      note: (text) => this.note(text),
    });
  }
}
