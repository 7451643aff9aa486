import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { ServiceError } from '../errors.js';

/** The first of `names` found on PATH; a missing client is a missing service (exit 3). */
export async function findTool(names: readonly string[], installHint: string): Promise<string> {
  const directories = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of names) {
    for (const directory of directories) {
      const candidate = path.join(directory, name);
      try {
        await access(candidate, fsConstants.X_OK);
        return candidate;
      } catch {
        // not in this directory
      }
    }
  }
  throw new ServiceError(`neither ${names.join(' nor ')} is installed (searched PATH)`, {
    hint: installHint,
  });
}
