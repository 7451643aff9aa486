import { createInterface } from 'node:readline';
import { childEnvironment } from '../child-process.js';
import { startChild } from '../children.js';
import { connectionUrl } from '../config/urls.js';
import { engineFor } from '../servers/engines/index.js';
import type { AftyContext } from '../context.js';
import { OperationError } from '../errors.js';
import type { TenantRecord } from '../registry/index.js';
import { tenantLocation } from './index.js';

export interface TenantCommandResult {
  exitCode: number;
}

/**
 * The variables a per-tenant command sees besides the minimal environment (childEnvironment):
 * the tenant's own credentials as DATABASE_URL, as AFTY_TENANT_*, and as Laravel's DB_* so
 * `php artisan` talks to the tenant's database. Never the server's admin login or AFTY_SECRET.
 */
export function tenantEnvironment(ctx: AftyContext, tenant: TenantRecord): Record<string, string> {
  const location = tenantLocation(ctx, tenant);
  const url = connectionUrl(location);
  const database = engineFor(location).runEnvironment(location, tenant.database);
  return {
    AFTY_TENANT_ID: tenant.id,
    AFTY_TENANT_DATABASE: tenant.database,
    AFTY_TENANT_SERVER: tenant.server,
    DATABASE_URL: url,
    ...database,
  };
}

/**
 * Runs a program once for a tenant: arguments passed exactly (no shell), output handed over
 * line by line. Non-zero exit or a missing program → OperationError naming the tenant.
 */
export async function runTenantCommand(
  ctx: AftyContext,
  tenant: TenantRecord,
  command: string,
  args: string[],
  onLine: (stream: 'stdout' | 'stderr', line: string) => void,
): Promise<TenantCommandResult> {
  const { child, killedBecause } = await startChild(command, args, {
    env: childEnvironment(tenantEnvironment(ctx, tenant)),
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    buffer: false,
    shell: false,
  });
  const pump = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') =>
    stream
      ? new Promise<void>((resolve) => {
          const lines = createInterface({ input: stream, crlfDelay: Infinity });
          lines.on('line', (line) => onLine(name, line));
          lines.on('close', resolve);
        })
      : Promise.resolve();
  const [result] = await Promise.all([child, pump(child.stdout, 'stdout'), pump(child.stderr, 'stderr')]);
  const killed = killedBecause();
  if (killed) throw killed;
  if (result.exitCode === 0) return { exitCode: 0 };
  if (result.exitCode === undefined) {
    const notFound = (result as { code?: string }).code === 'ENOENT';
    throw new OperationError(
      notFound ? `command not found: ${command}` : `${command} could not run: ${result.shortMessage}`,
      {
        tenant: tenant.id,
      },
    );
  }
  throw new OperationError(
    result.signal
      ? `${command} was killed by ${result.signal}`
      : `${command} exited with code ${result.exitCode}`,
    { tenant: tenant.id },
  );
}
