import { InputError, NotFoundError } from '../errors.js';
import type { DomainRecord, Registry, TenantRecord } from '../registry/index.js';
import { validateDomain } from '../validation/index.js';

/** Adds a domain; domains are unique across tenants and each tenant has one primary. */
export async function addDomain(
  registry: Registry,
  tenant: TenantRecord,
  rawDomain: string,
  primary: boolean,
): Promise<DomainRecord[]> {
  const domain = validateDomain(rawDomain);
  const owner = await registry.findDomain(domain);
  if (owner) {
    if (owner.tenantId !== tenant.id)
      throw new InputError(`domain ${domain} already belongs to tenant ${owner.tenantId}`);
    if (!primary || owner.primary)
      throw new InputError(`domain ${domain} is already a domain of tenant ${tenant.id}`);
    await registry.setPrimaryDomain(tenant.id, domain);
  } else {
    await registry.addDomain(tenant.id, domain, primary);
  }
  return registry.listDomains([tenant.id]);
}

export async function removeDomain(registry: Registry, rawDomain: string): Promise<DomainRecord> {
  const domain = validateDomain(rawDomain);
  const record = await registry.findDomain(domain);
  if (!record)
    throw new NotFoundError(`no tenant has the domain ${domain}`, { hint: 'see afty tenant domain list' });
  await registry.removeDomain(domain);
  return record;
}
