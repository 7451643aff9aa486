import xterm from '@xterm/headless';
import { execa } from 'execa';
import { stripVTControlCharacters } from 'node:util';
import { BIN } from './cli.js';
import type { TestProject } from './project.js';

/**
 * afty in a real pseudo-terminal (util-linux `script`), read back through a terminal emulator
 * (xterm.js headless), so a test sees the screen an operator sees: what is on it, what scrolled
 * away, how many bytes the terminal got.
 */
export interface TerminalRun {
  exitCode: number;
  /** Everything the terminal received, escape codes included. */
  raw: string;
  /** The screen at the end, one string per row (trailing blanks trimmed). */
  screen: string[];
  /** Lines that scrolled off the top, oldest first. */
  scrollback: string[];
  /** Scrollback and screen as the lines afty wrote: a line the terminal wrapped is one again. */
  text: string;
  /** The most lines that had scrolled away while the live view was up (0: it always fit). */
  scrolledDuringView: number;
  durationMs: number;
}

export interface TerminalOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  columns?: number;
  rows?: number;
  /** Called with everything received so far; `type` writes keys (e.g. "\x03" for Ctrl-C). */
  onOutput?(raw: string, type: (keys: string) => void): void;
  timeoutMs?: number;
}

const SHOW_CURSOR = '\x1b[?25h';
const HIDE_CURSOR = '\x1b[?25l';

export async function runInTerminal(args: string[], options: TerminalOptions): Promise<TerminalRun> {
  const columns = options.columns ?? 100;
  const rows = options.rows ?? 30;
  const env: NodeJS.ProcessEnv = { ...options.env, TERM: 'xterm-256color' };
  delete env.CI;
  const quoted = ['node', BIN, ...args].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(' ');
  const started = performance.now();
  const child = execa('script', ['-qfec', `stty cols ${columns} rows ${rows}; ${quoted}`, '/dev/null'], {
    cwd: options.cwd,
    env,
    extendEnv: false,
    reject: false,
    stdin: 'pipe',
    timeout: options.timeoutMs ?? 120_000,
    encoding: 'utf8',
  });
  let raw = '';
  const type = (keys: string) => child.stdin?.write(keys);
  child.stdout!.on('data', (chunk: Buffer) => {
    raw += chunk.toString('utf8');
    options.onOutput?.(raw, type);
  });
  const result = await child;
  const durationMs = performance.now() - started;

  const terminal = new xterm.Terminal({ cols: columns, rows, scrollback: 10_000, allowProposedApi: true });
  const write = (text: string) => new Promise<void>((resolve) => terminal.write(text, resolve));
  // Replay up to the end of the live view (the cursor comes back), watching what scrolls away.
  let scrolledDuringView = 0;
  const viewStart = raw.indexOf(HIDE_CURSOR);
  const viewEnd = raw.indexOf(SHOW_CURSOR, Math.max(0, viewStart));
  if (viewStart >= 0) {
    await write(raw.slice(0, viewStart));
    const before = terminal.buffer.active.baseY;
    const live = raw.slice(viewStart, viewEnd < 0 ? raw.length : viewEnd);
    for (let offset = 0; offset < live.length; offset += 512) {
      await write(live.slice(offset, offset + 512));
      scrolledDuringView = Math.max(scrolledDuringView, terminal.buffer.active.baseY - before);
    }
    await write(raw.slice(viewEnd < 0 ? raw.length : viewEnd));
  } else {
    await write(raw);
  }
  const buffer = terminal.buffer.active;
  const line = (index: number) => buffer.getLine(index)?.translateToString(true) ?? '';
  const scrollback = Array.from({ length: buffer.baseY }, (_, index) => line(index));
  const screen = Array.from({ length: rows }, (_, index) => line(buffer.baseY + index));
  let text = '';
  for (let index = 0; index < buffer.baseY + rows; index += 1) {
    const row = buffer.getLine(index);
    text += `${row?.isWrapped ? '' : index ? '\n' : ''}${row?.translateToString(true) ?? ''}`;
  }
  terminal.dispose();
  return { exitCode: result.exitCode ?? -1, raw, screen, scrollback, text, scrolledDuringView, durationMs };
}

/**
 * Runs afty on a real pseudo-terminal `columns` wide, typing `keys` once a prompt is up, so the
 * interactive paths and the terminal layout are exercised as an operator sees them. The output
 * has its colour codes removed.
 */
export async function typeInTerminal(project: TestProject, args: string[], keys = '', columns = 100) {
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
