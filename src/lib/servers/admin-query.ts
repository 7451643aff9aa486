import type { Knex } from 'knex';
import { OperationError, classifyDriverError, driverMessage } from '../errors.js';

/**
 * Runs admin SQL on a server's pool: connection failures become exit 3 (a refused login exit 2,
 * naming where the password came from), SQL failures exit 1 without the SQL text.
 */
export async function runAdminQuery<T>(
  server: { readonly name: string; readonly description: string },
  credentials: string,
  admin: Promise<Knex>,
  what: string,
  run: (db: Knex) => Promise<T>,
): Promise<T> {
  const db = await admin;
  try {
    return await run(db);
  } catch (error) {
    const classified = classifyDriverError(error, {
      target: `database server "${server.name}" (${server.description})`,
      credentials,
    });
    if (classified) throw classified;
    throw new OperationError(`${what} failed on server "${server.name}": ${driverMessage(error)}`, {
      cause: error,
    });
  }
}
