import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findTool } from '../../../backup/tools.js';
import { childEnvironment, withCredentialsFolder } from '../../../child-process.js';
import { startChild, type ChildStallWatch } from '../../../children.js';
import { OperationError, ServiceError, LoginRefusedError } from '../../../errors.js';
import { stepMarker } from '../../../step-marker.js';
import type { NetworkLocation } from '../../engine.js';
import { probeServer, serverKey } from '../../knex.js';
import { MAINTENANCE_DATABASE } from './url.js';

export const POSTGRES_TOOLS = {
  dump: ['pg_dump'],
  load: ['pg_restore'],
  installHint: 'install the Debian package postgresql-client (apt-get install postgresql-client)',
};

/** A .pgpass field: `:` and `\` escaped with a backslash. */
function passField(value: string): string {
  return value.replace(/[\\:]/g, (char) => `\\${char}`);
}

/**
 * Runs `use` with the environment libpq's tools need for `location`: the password in a 0600
 * PGPASSFILE inside a private folder removed on every exit path (never in argv, where ps shows
 * it, nor in a variable of its own), host, port, user and database as PG* variables.
 */
export async function withPgEnvironment<T>(
  location: NetworkLocation,
  use: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  const { host, port, user, password, database } = location.connection;
  return withCredentialsFolder(async (directory) => {
    const passFile = path.join(directory, 'pgpass');
    const line = [host, String(port), '*', user, password ?? ''].map(passField).join(':');
    await writeFile(passFile, `${line}\n`, { mode: 0o600 });
    await stepMarker('option file');
    return use(
      childEnvironment({
        PGHOST: host,
        PGPORT: String(port),
        PGUSER: user,
        PGDATABASE: database ?? MAINTENANCE_DATABASE,
        PGPASSFILE: passFile,
        PGCONNECT_TIMEOUT: '10',
        PGAPPNAME: 'afty',
      }),
    );
  });
}

/** How the watchdog follows a libpq tool talking to `location`. */
export function toolWatch(tool: string, location: NetworkLocation): ChildStallWatch {
  return { what: path.basename(tool), server: serverKey(location), probe: () => probeServer(location) };
}

/** A libpq tool's failure as one line; a refused login is exit 2, an unreachable server exit 3. */
export function pgToolError(
  tool: string,
  error: unknown,
  database: string,
  source: string | undefined,
): Error {
  const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
  const detail =
    stderr
      .split('\n')
      .map((line) => line.replace(/^(pg_dump|pg_restore|psql): (error: )?/, '').trim())
      .filter(Boolean)
      .at(-1) ??
    (error as { shortMessage?: string }).shortMessage ??
    String(error);
  const message = `${path.basename(tool)} failed for database ${database}: ${detail}`;
  if (/password authentication failed|no password supplied|role .* does not exist/i.test(detail)) {
    return new LoginRefusedError(message, {
      hint: source ? `the password comes from ${source}` : 'check the user and password',
      cause: error,
    });
  }
  if (
    /could not connect|connection refused|timeout expired|too many clients|the database system is/i.test(
      detail,
    )
  ) {
    return new ServiceError(message, {
      hint: 'check that the server is running and can take a connection',
      cause: error,
    });
  }
  return new OperationError(message, { cause: error });
}

/** Runs pg_dump to completion and returns its output (small outputs: schema sections). */
export async function pgDumpText(location: NetworkLocation, args: readonly string[]): Promise<string> {
  const tool = await findTool(POSTGRES_TOOLS.dump, POSTGRES_TOOLS.installHint);
  const database = location.connection.database ?? MAINTENANCE_DATABASE;
  return withPgEnvironment(location, async (env) => {
    const { child, killedBecause } = await startChild(
      tool,
      [...args, '--no-password'],
      { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env, extendEnv: false },
      toolWatch(tool, location),
    );
    try {
      const result = await child;
      return String(result.stdout);
    } catch (error) {
      throw killedBecause() ?? pgToolError(tool, error, database, location.source);
    }
  });
}
