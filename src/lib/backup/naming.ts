import { randomBytes } from 'node:crypto';
import { InputError } from '../errors.js';

/** Safety copies and scratch databases: `$` cannot occur in a tenant database name, so no clash. */
export const SAFETY_MARK = '$s';
export const RESTORE_SCRATCH_MARK = '$r';
export const VERIFY_SCRATCH_MARK = '$v';
/** A tenant's database left on the server it moved away from, kept until pruned or --drop-source. */
export const MOVED_MARK = '$m';
/** Scratch databases of a move: the copy on the target, and the empty stand-in on the source. */
export const MOVE_SCRATCH_MARK = '$i';

/** `<database><mark><suffix>`, refused when MySQL's 64-character limit would cut it. */
function companionName(database: string, mark: string, suffix: string): string {
  const name = `${database}${mark}${suffix}`;
  if (name.length > 64) {
    throw new InputError(`database name ${name} would be longer than 64 characters`, {
      hint: 'tenants with very long database names cannot be restored in place; use a shorter tenancy.databasePrefix',
    });
  }
  return name;
}

/** `<database>$s<YYMMDDhhmmssSSS>` (UTC): milliseconds so back-to-back restores never collide. */
export function safetyCopyName(database: string, at: Date, mark = SAFETY_MARK): string {
  return companionName(database, mark, at.toISOString().replace(/\D/g, '').slice(2, 17));
}

/** When a safety copy (or, with MOVED_MARK, a moved-away copy) was taken, from its name. */
export function safetyCopyDate(database: string, copy: string, mark = SAFETY_MARK): Date | undefined {
  const stamp = copy.slice(database.length + mark.length);
  const match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})$/.exec(stamp);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, ms] = match;
  return new Date(`20${year}-${month}-${day}T${hour}:${minute}:${second}.${ms}Z`);
}

export function scratchName(database: string, mark: string): string {
  return companionName(database, mark, randomBytes(3).toString('hex'));
}
