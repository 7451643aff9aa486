import { Flags } from '@oclif/core';
import { REPORTERS } from '../checks/types.js';

/** How `afty test` and `afty diagnose` report. */
export const reportFlags = {
  reporter: Flags.string({
    char: 'r',
    options: [...REPORTERS],
    default: 'pretty',
    description: 'report format: pretty, json, junit (JUnit XML) or tap (TAP 13)',
  }),
  output: Flags.string({
    char: 'o',
    description: 'write the report to this file (stdout then shows the pretty report)',
  }),
};
