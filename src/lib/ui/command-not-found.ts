import type { Hook } from '@oclif/core';
import { closestMatch } from '../validation/suggest.js';
import { colorErr } from './output.js';

/**
 * oclif's command_not_found hook: one line naming the nearest command or topic, the same in a
 * terminal and in CI, and exit 127 (the shell's "command not found"; README, "Output and exit
 * codes"). It replaces @oclif/plugin-not-found, which said "is not a afty command", suggested
 * only in a terminal, and there offered to run the suggestion: for an operations tool a typo
 * must never turn into another command with one Enter (`tenant delte` → `tenant delete`).
 */
const hook: Hook.CommandNotFound = async function (options) {
  const { config } = options;
  const visible = config.commands.filter((command) => !command.hidden);
  const ids = new Set([
    ...visible.flatMap((command) => [command.id, ...command.aliases]),
    ...config.topics.filter((topic) => !topic.hidden).map((topic) => topic.name),
  ]);
  const spaced = (id: string) => id.replace(/:/g, ' ');
  const suggestion = closestMatch(options.id, ids);
  process.stderr.write(
    `${colorErr.red('Error:')} "${spaced(options.id)}" is not an ${config.bin} command${
      suggestion === undefined ? '' : `; did you mean ${config.bin} ${spaced(suggestion)}?`
    } (see ${config.bin} help)\n`,
  );
  this.exit(127);
};

export default hook;
