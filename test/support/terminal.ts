import { execa } from 'execa';
import { stripVTControlCharacters } from 'node:util';
import { BIN } from './cli.js';
import type { TestProject } from './project.js';

/**
 * Runs afty on a real pseudo-terminal (util-linux `script`) `columns` wide, typing `keys` once a
 * prompt is up, so the interactive paths and the terminal layout are exercised as an operator
 * sees them. The output has its colour codes removed.
 */
export async function runInTerminal(project: TestProject, args: string[], keys = '', columns = 100) {
  const env = { ...project.env };
  delete env.CI;
  const quoted = ['node', BIN, ...args].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(' ');
  const command = `stty cols ${columns} rows 50; ${quoted}`;
  const child = execa('script', ['-qec', command, '/dev/null'], {
    cwd: project.dir,
    env,
    extendEnv: false,
    reject: false,
  });
  if (keys) setTimeout(() => child.stdin?.write(keys), 2500).unref();
  const result = await child;
  return {
    exitCode: result.exitCode,
    output: stripVTControlCharacters(String(result.stdout)),
  };
}
