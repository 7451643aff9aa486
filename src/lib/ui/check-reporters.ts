import { InputError } from '../errors.js';
import { reportJson } from '../checks/runner.js';
import type { CheckReport, CheckResult, CheckStatus, ReporterName } from '../checks/types.js';
import { color, formatDuration } from './output.js';

const SYMBOLS: Record<CheckStatus, string> = { pass: '✓', warn: '!', fail: '✗', skip: '-' };
const PAINT: Record<CheckStatus, (text: string) => string> = {
  pass: (text) => color.green(text),
  warn: (text) => color.yellow(text),
  fail: (text) => color.red(text),
  skip: (text) => color.dim(text),
};

/** `check.id [tenant]`: the name of one result in every reporter. */
export function resultName(result: CheckResult): string {
  const subject = result.tenant ?? result.server;
  return subject ? `${result.id} [${subject}]` : result.id;
}

function summaryLine(report: CheckReport): string {
  const { summary } = report;
  const parts = [
    color.green(`${summary.pass} passed`),
    summary.warn
      ? color.yellow(`${summary.warn} warning${summary.warn === 1 ? '' : 's'}`)
      : `${summary.warn} warnings`,
    summary.fail ? color.red(`${summary.fail} failed`) : `${summary.fail} failed`,
    `${summary.skip} skipped`,
  ];
  return `${parts.join(', ')} (${summary.total} checks, ${report.totals.tenants} tenant${report.totals.tenants === 1 ? '' : 's'}, ${formatDuration(summary.durationMs)})`;
}

/** Grouped by category: ✓ / ! / ✗ / - with the one-line message, and the remedy under warnings and failures. */
export function renderPretty(report: CheckReport): string {
  const lines: string[] = [];
  for (const category of report.categories) {
    const results = report.results.filter((result) => result.category === category);
    if (results.length === 0) continue;
    lines.push(color.bold(category));
    for (const result of results) {
      lines.push(
        `  ${PAINT[result.status](SYMBOLS[result.status])} ${resultName(result)}  ${result.message}${result.status === 'skip' ? '' : color.dim(` (${formatDuration(result.durationMs)})`)}`,
      );
      if (result.fix)
        lines.push(
          `      ${result.fix.applied ? color.green('fixed:') : color.red('fix failed:')} ${result.fix.message}`,
        );
      if (result.remedy) lines.push(`      ${color.dim('→')} ${result.remedy}`);
    }
  }
  lines.push('', summaryLine(report));
  return lines.join('\n');
}

export function renderJsonReport(report: CheckReport): string {
  return JSON.stringify(reportJson(report), null, 2);
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * JUnit XML as CI systems read it: one <testsuite> per category, one <testcase> per check and
 * tenant; fail → <failure>, skip → <skipped>, warnings pass with the warning in <system-out>.
 */
export async function renderJunit(report: CheckReport): Promise<string> {
  const { create } = await import('xmlbuilder2');
  const root = create({ version: '1.0', encoding: 'UTF-8' }).ele('testsuites', {
    name: `afty ${report.command}`,
    tests: report.summary.total,
    failures: report.summary.fail,
    errors: 0,
    skipped: report.summary.skip,
    time: seconds(report.summary.durationMs),
    timestamp: report.startedAt,
  });
  for (const category of report.categories) {
    const results = report.results.filter((result) => result.category === category);
    if (results.length === 0) continue;
    const count = (status: CheckStatus) => results.filter((result) => result.status === status).length;
    const suite = root.ele('testsuite', {
      name: category,
      tests: results.length,
      failures: count('fail'),
      errors: 0,
      skipped: count('skip'),
      time: seconds(results.reduce((sum, result) => sum + result.durationMs, 0)),
      timestamp: report.startedAt,
    });
    for (const result of results) {
      const testcase = suite.ele('testcase', {
        classname: `afty.${category}.${result.id}`,
        name: resultName(result),
        time: seconds(result.durationMs),
      });
      if (result.status === 'fail') {
        testcase
          .ele('failure', { message: result.message, type: result.id })
          .txt(`${result.message}\nremedy: ${result.remedy ?? ''}`);
      } else if (result.status === 'skip') {
        testcase.ele('skipped', { message: result.message });
      } else {
        testcase
          .ele('system-out')
          .txt(
            result.status === 'warn'
              ? `warning: ${result.message}\nremedy: ${result.remedy ?? ''}`
              : result.message,
          );
      }
    }
  }
  return root.end({ prettyPrint: true });
}

/** A YAML scalar that is always safe: JSON strings are valid YAML. */
const yamlValue = (value: unknown) => JSON.stringify(value);

/** TAP version 13: one test point per result; SKIP directive for skipped; a YAML block for warnings and failures. */
export function renderTap(report: CheckReport): string {
  const lines = ['TAP version 13', `1..${report.results.length}`];
  report.results.forEach((result, index) => {
    const oneLine = (text: string) => text.replace(/#/g, '\\#').replace(/\n/g, ' ');
    const ok = result.status === 'fail' ? 'not ok' : 'ok';
    lines.push(
      result.status === 'skip'
        ? `ok ${index + 1} - ${resultName(result)} # SKIP ${oneLine(result.message)}`
        : `${ok} ${index + 1} - ${oneLine(`${resultName(result)}: ${result.message}`)}`,
    );
    if (result.status === 'fail' || result.status === 'warn') {
      lines.push('  ---');
      lines.push(`  severity: ${result.status}`);
      lines.push(`  check: ${yamlValue(result.id)}`);
      lines.push(`  category: ${yamlValue(result.category)}`);
      if (result.tenant) lines.push(`  tenant: ${yamlValue(result.tenant)}`);
      lines.push(`  message: ${yamlValue(result.message)}`);
      lines.push(`  remedy: ${yamlValue(result.remedy)}`);
      lines.push(`  duration_ms: ${result.durationMs}`);
      lines.push('  ...');
    }
  });
  const { summary } = report;
  lines.push(
    `# pass ${summary.pass}`,
    `# warn ${summary.warn}`,
    `# fail ${summary.fail}`,
    `# skip ${summary.skip}`,
  );
  return lines.join('\n');
}

export async function renderReport(report: CheckReport, reporter: ReporterName): Promise<string> {
  switch (reporter) {
    case 'json':
      return renderJsonReport(report);
    case 'junit':
      return renderJunit(report);
    case 'tap':
      return renderTap(report);
    default:
      return renderPretty(report);
  }
}

export interface PresentOptions {
  reporter: ReporterName;
  output?: string;
  json: boolean;
  /** Writes to stdout. */
  log(text: string): void;
  /** Writes to stderr. */
  note(text: string): void;
}

/**
 * Shows a finished report: the chosen reporter into --output (without colours) or on stdout.
 * With a file, stdout still gets the pretty report so a CI log shows what happened; under --json
 * stdout is left to the returned JSON. Returns the JSON form.
 */
export async function presentReport(report: CheckReport, options: PresentOptions): Promise<CheckReport> {
  const text = await renderReport(report, options.reporter);
  if (options.output) {
    const [{ writeFile }, { stripVTControlCharacters }] = await Promise.all([
      import('node:fs/promises'),
      import('node:util'),
    ]);
    await writeFile(options.output, `${stripVTControlCharacters(text)}\n`);
    options.note(`${options.reporter} report written to ${options.output}`);
    if (!options.json) options.log(renderPretty(report));
  } else if (!options.json) {
    options.log(text);
  }
  return reportJson(report);
}

/**
 * Refuses report options that could only fail at the end, before any check has run: a reporter
 * that needs --output under --json, and an --output file that cannot be written.
 */
export async function assertReportOptions(options: Pick<PresentOptions, 'reporter' | 'output' | 'json'>) {
  if (options.json && !options.output && options.reporter !== 'pretty' && options.reporter !== 'json') {
    throw new InputError(`--reporter ${options.reporter} needs --output FILE when --json holds stdout`);
  }
  if (options.output === undefined) return;
  const { assertWritableFile } = await import('../validation/files.js');
  await assertWritableFile(options.output, { what: 'the report', flag: '--output' });
}
