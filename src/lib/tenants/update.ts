import { InputError } from '../errors.js';
import type { Registry, TenantRecord } from '../registry/index.js';
import { parseSettingAssignment, validateIp, validateTenantName, validateText } from '../validation/index.js';
import { applySettings } from './index.js';

export interface TenantChanges {
  name?: string;
  set?: string[];
  maintenance?: 'on' | 'off';
  message?: string;
  allowIps?: string[];
  retryAfter?: number;
  homepage?: 'on' | 'off';
}

/** Validates every change first, then writes them in one update. */
export async function updateTenantSettings(
  registry: Registry,
  tenant: TenantRecord,
  changes: TenantChanges,
): Promise<TenantRecord> {
  const name = changes.name === undefined ? undefined : validateTenantName(changes.name);
  const assignments = (changes.set ?? []).map(parseSettingAssignment);
  const allowIps = (changes.allowIps ?? []).map(validateIp);
  const maintenanceDetails =
    changes.message !== undefined || allowIps.length > 0 || changes.retryAfter !== undefined;
  if (maintenanceDetails && changes.maintenance !== 'on' && !tenant.settings.maintenance) {
    throw new InputError(
      '--message, --allow-ip and --retry-after need --maintenance on (or a tenant already in maintenance)',
    );
  }
  if (maintenanceDetails && changes.maintenance === 'off') {
    throw new InputError('--message, --allow-ip and --retry-after cannot be combined with --maintenance off');
  }
  const message =
    changes.message === undefined ? undefined : validateText(changes.message, '--message', 1000);
  const nothing =
    name === undefined &&
    assignments.length === 0 &&
    !changes.maintenance &&
    !maintenanceDetails &&
    !changes.homepage;
  if (nothing) {
    throw new InputError('nothing to update', { hint: 'pass --name, --set, --maintenance or --homepage' });
  }

  let settings = applySettings(tenant.settings, assignments);
  if (changes.maintenance === 'off') delete settings.maintenance;
  else if (changes.maintenance === 'on' || maintenanceDetails) {
    const current = settings.maintenance;
    settings = {
      ...settings,
      maintenance: {
        message: message ?? current?.message ?? null,
        allow_ips: allowIps.length > 0 ? [...new Set(allowIps)] : (current?.allow_ips ?? []),
        retry_after: changes.retryAfter ?? current?.retry_after ?? null,
      },
    };
  }
  if (changes.homepage) settings.homepage = changes.homepage === 'on';

  await registry.updateTenant(tenant.id, { name, settings });
  return (await registry.findTenant(tenant.id))!;
}
