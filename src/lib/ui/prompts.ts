import { InputError, OperationError } from '../errors.js';
import { statusLine } from './status-line.js';

/** Prompts only when a person can answer: stdin is a terminal and CI is not set. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY) && !process.env.CI;
}

/** Prompts write to stderr so stdout stays clean (and valid JSON with --json). */
const promptContext = { output: process.stderr };

/**
 * Asks before something destructive (`action` like "delete tenant acme"); without a terminal,
 * refuses unless --force was given.
 */
export async function confirmDestructive(action: string, force: boolean, flag = '--force'): Promise<void> {
  if (force) return;
  if (!canPrompt()) {
    throw new InputError(`refusing to ${action} without confirmation`, {
      hint: `pass ${flag} to confirm when not running in a terminal`,
    });
  }
  statusLine.clear();
  const { confirm } = await import('@inquirer/prompts');
  const answer = await confirm(
    { message: `${action.charAt(0).toUpperCase()}${action.slice(1)}?`, default: false },
    promptContext,
  );
  if (!answer) throw new OperationError('cancelled, nothing was changed');
}

/** A question with a default; without a terminal the caller must have passed the flag. */
export async function askText(
  message: string,
  defaultValue: string | undefined,
  flag: string,
): Promise<string> {
  if (!canPrompt()) {
    if (defaultValue !== undefined) return defaultValue;
    throw new InputError(`${message} was not given`, { hint: `pass ${flag}` });
  }
  statusLine.clear();
  const { input } = await import('@inquirer/prompts');
  return input({ message, default: defaultValue }, promptContext);
}

export async function askChoices<T extends string>(
  message: string,
  choices: Array<{ value: T; name?: string; checked?: boolean }>,
  flag: string,
): Promise<T[]> {
  if (!canPrompt()) throw new InputError(`${message}: no selection given`, { hint: `pass ${flag}` });
  statusLine.clear();
  const { checkbox } = await import('@inquirer/prompts');
  return checkbox({ message, choices, pageSize: 15, required: true }, promptContext);
}
