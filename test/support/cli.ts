import { execa, type ResultPromise } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/run.js');

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Spawns bin/run.js (the built CLI) with no stdin, as CI and scripts do. */
export async function runCli(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string },
): Promise<CliResult> {
  const result = await execa('node', [BIN, ...args], {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    reject: false,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    timeout: 120_000,
  });
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
}

/** Runs the CLI with --json and parses stdout (which must be nothing but JSON). */
export async function runJson<T = unknown>(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<CliResult & { json: T }> {
  // --json goes before any `--`: what follows belongs to the command afty runs.
  const separator = args.indexOf('--');
  const withJson =
    separator < 0 ? [...args, '--json'] : [...args.slice(0, separator), '--json', ...args.slice(separator)];
  const result = await runCli(withJson, options);
  let json: T;
  try {
    json = JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `stdout is not JSON (exit ${result.exitCode}):\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return { ...result, json };
}

export interface PausedCli {
  /** The afty process, waiting at the step (kill it, or signal it). */
  child: ResultPromise;
  /** What it wrote to stderr up to the marker. */
  stderr: string;
  /** Resolves once the process has ended (it is never rejected). */
  ended: Promise<{ exitCode?: number; signal?: string }>;
}

/**
 * Starts bin/run.js with AFTY_TEST_PAUSE_AT=<step> and resolves once afty says it reached the
 * step ("afty: paused at <step>" on stderr, src/lib/step-marker.ts); rejects if it ends first.
 */
export async function runUntilPaused(
  args: string[],
  step: string,
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<PausedCli> {
  const child = execa('node', [BIN, ...args], {
    cwd: options.cwd,
    env: { ...options.env, AFTY_TEST_PAUSE_AT: step },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
  });
  const ended = child.then((result) => ({ exitCode: result.exitCode, signal: result.signal }));
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(`afty: paused at ${step}\n`)) resolve();
    });
    void ended.then(() => reject(new Error(`afty ended before step "${step}":\n${stderr}`)));
  });
  return { child, stderr, ended };
}
