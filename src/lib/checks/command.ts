import type { Command } from '@oclif/core';
import { BaseCommand } from '../ui/base-command.js';
import type { CheckReport, ReporterName } from './types.js';

/** `afty test` and `afty diagnose`: both end by reporting and deriving the exit code from the results. */
export abstract class CheckReportCommand<T extends typeof Command> extends BaseCommand<T> {
  /** A report that could not be written must fail before the checks run, not after. */
  public async init(): Promise<void> {
    await super.init();
    const flags = this.flags as { reporter: string; output?: string };
    const { assertReportOptions } = await import('./reporters.js');
    await assertReportOptions({
      reporter: flags.reporter as ReporterName,
      output: flags.output,
      json: this.jsonEnabled(),
    });
  }

  protected async finish(
    report: CheckReport,
    flags: { reporter: string; output?: string },
  ): Promise<CheckReport> {
    const { presentReport, reportExitCode } = await import('./index.js');
    process.exitCode = reportExitCode(report.results);
    return presentReport(report, {
      reporter: flags.reporter as ReporterName,
      output: flags.output,
      json: this.jsonEnabled(),
      log: (text) => this.log(text),
      note: (text) => this.note(text),
    });
  }
}
