import { lstatSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OperationError } from './errors.js';

/**
 * What every child process afty starts (tenant commands, mariadb-dump, mariadb) gets from the
 * operator's environment: enough to find programs, write temporary files, speak the locale and
 * draw on the terminal. Never AFTY_SECRET, the server or central URLs (admin passwords) or
 * anything else the operator happens to have exported.
 */
const PASSED_VARIABLES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TERM',
  'COLORTERM',
  'NO_COLOR',
  'FORCE_COLOR',
  'TMPDIR',
  'TMP',
  'TEMP',
  'CI',
  // Windows needs these to start any program.
  'SYSTEMROOT',
  'SystemRoot',
  'COMSPEC',
  'ComSpec',
  'PATHEXT',
  'WINDIR',
]);

/** The passed subset of `from` (LC_* locale settings included), plus `extra`. */
export function childEnvironment(
  extra: Record<string, string> = {},
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && (PASSED_VARIABLES.has(name) || name.startsWith('LC_'))) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * The folder for files that hold credentials while a child process runs (client option files):
 * `<tmp>/afty-<uid>`, mode 0700, owned by this user and not a symlink, so no other user can read
 * or plant anything in it. Each use makes a `<pid>-…` folder inside, removed when the use ends or
 * the process exits (also on SIGINT/SIGTERM/SIGHUP); only kill -9 leaves one, which
 * leftoverCredentialFolders() finds.
 */
export function credentialsRoot(): string {
  const uid = process.getuid?.() ?? 0;
  const root = path.join(os.tmpdir(), `afty-${uid}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const info = lstatSync(root);
  if (!info.isDirectory() || info.uid !== uid || (info.mode & 0o077) !== 0) {
    throw new OperationError(
      `${root} is not a private folder of this user (it must be a directory with mode 0700 owned by uid ${uid})`,
      { hint: `remove it (rm -rf ${root}) and retry; afty recreates it` },
    );
  }
  return root;
}

const open = new Set<string>();
let exitHookInstalled = false;

function removeOpenFolders(): void {
  for (const folder of open) rmSync(folder, { recursive: true, force: true });
  open.clear();
}

/**
 * Runs `use` with a fresh private folder for credential files; the folder is removed on every
 * exit path: when `use` settles, and when the process exits or is stopped by a signal meanwhile.
 */
export async function withCredentialsFolder<T>(use: (folder: string) => Promise<T>): Promise<T> {
  if (!exitHookInstalled) {
    const { onExit } = await import('signal-exit');
    // Synchronous and last: runs on exit and on SIGINT/SIGTERM/SIGHUP, which it then re-raises
    // unless the process handles the signal itself.
    onExit(removeOpenFolders, { alwaysLast: true });
    exitHookInstalled = true;
  }
  const folder = await mkdtemp(path.join(credentialsRoot(), `${process.pid}-`));
  open.add(folder);
  try {
    return await use(folder);
  } finally {
    open.delete(folder);
    rmSync(folder, { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LeftoverFolder {
  path: string;
  pid: number;
  modifiedAt: string;
}

/** Credential folders whose afty process is gone (killed with -9): they may hold passwords. */
export function leftoverCredentialFolders(): LeftoverFolder[] {
  const root = credentialsRoot();
  return readdirSync(root)
    .map((name) => ({ name, pid: Number(/^(\d+)-/.exec(name)?.[1]) }))
    .filter(({ pid }) => Number.isInteger(pid) && pid > 0 && !isRunning(pid))
    .map(({ name, pid }) => {
      const folder = path.join(root, name);
      return { path: folder, pid, modifiedAt: statSync(folder).mtime.toISOString() };
    });
}
