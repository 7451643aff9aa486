import { InputError, NotFoundError } from '../errors.js';
import type { Registry, TenantRecord } from '../registry/index.js';
import { resolveTenant } from '../tenants/index.js';
import { describeValue, type TenantStatus } from '../validation/index.js';

export interface FleetSelection {
  /** Ids or domains, from repeatable --tenant. */
  tenants: string[];
  all: boolean;
  status: TenantStatus[];
  server: string[];
  exclude: string[];
}

export interface SelectionOptions {
  /** The configured servers: a --server naming another is a typo, not an empty selection. */
  knownServers?: readonly string[];
  /** Non-fatal findings (an --exclude that matches no tenant). */
  warn?(message: string): void;
}

/** True when the operator named no tenants and no filter: the command must pick or refuse. */
export function isEmptySelection(selection: FleetSelection): boolean {
  return (
    selection.tenants.length === 0 &&
    !selection.all &&
    selection.status.length === 0 &&
    selection.server.length === 0
  );
}

/**
 * Resolves a selection to tenants, in id order. Named tenants must exist; filters narrow both
 * named tenants and --all. Exclusions accept ids or domains; one that matches no tenant is
 * warned about (it excludes nothing), never an error: a list of exclusions outlives tenants.
 */
export async function selectTenants(
  registry: Registry,
  selection: FleetSelection,
  options: SelectionOptions = {},
): Promise<TenantRecord[]> {
  const { knownServers } = options;
  const unknown = knownServers ? selection.server.filter((name) => !knownServers.includes(name)) : [];
  if (unknown.length > 0) {
    throw new InputError(
      `unknown server${unknown.length === 1 ? '' : 's'} ${unknown.map((name) => JSON.stringify(name)).join(', ')} in --server`,
      { hint: `configured servers: ${knownServers!.join(', ')}` },
    );
  }
  const excluded = new Set<string>();
  for (const key of selection.exclude) {
    try {
      excluded.add((await resolveTenant(registry, key)).id);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      options.warn?.(`--exclude ${describeValue(key)}: no tenant has that id or domain (nothing excluded)`);
    }
  }
  const filter = {
    status: selection.status.length ? selection.status : undefined,
    server: selection.server.length ? selection.server : undefined,
    exclude: [...excluded],
  };
  if (selection.tenants.length > 0) {
    const ids = new Set<string>();
    for (const key of selection.tenants) ids.add((await resolveTenant(registry, key)).id);
    return registry.listTenants({ ...filter, ids: [...ids] });
  }
  return registry.listTenants(filter);
}
