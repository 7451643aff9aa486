import { open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';

const WRITE_FAILURES: Record<string, string> = {
  ENOENT: 'its folder does not exist',
  ENOTDIR: 'part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
};

export interface WritableFileOptions {
  /** What the file is, for the message ("the report", "the snapshot"). */
  what: string;
  flag: string;
  /** The command creates missing folders (mkdir -p): then only the nearest existing one must be a folder. */
  createsFolders?: boolean;
}

/**
 * Fails (exit 2) before any work runs when `file` could not be written at the end: the file is
 * opened for writing without truncating it, and a file created just for the test is removed again.
 * Permissions alone prove nothing for root, so this tries rather than asks.
 */
export async function assertWritableFile(file: string, options: WritableFileOptions): Promise<void> {
  const refuse = (reason: string) =>
    new InputError(`cannot write ${options.what} to ${JSON.stringify(file)}: ${reason}`, {
      hint: `point ${options.flag} at a file in a folder afty can write`,
    });
  const reasonOf = (error: unknown) =>
    WRITE_FAILURES[(error as NodeJS.ErrnoException).code ?? ''] ?? (error as Error).message;
  if (file.trim() === '') throw refuse('the path is empty');
  const absolute = path.resolve(file);
  try {
    await (await open(absolute, 'r+')).close();
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw refuse(reasonOf(error));
  }
  let folder = path.dirname(absolute);
  if (options.createsFolders) {
    for (;;) {
      const found = await stat(folder).catch(() => undefined);
      if (found) {
        if (!found.isDirectory()) throw refuse(reasonOf({ code: 'ENOTDIR' }));
        break;
      }
      folder = path.dirname(folder);
    }
    if (folder !== path.dirname(absolute)) return;
  }
  try {
    await (await open(absolute, 'wx')).close();
  } catch (error) {
    throw refuse(reasonOf(error));
  }
  await rm(absolute, { force: true });
}
