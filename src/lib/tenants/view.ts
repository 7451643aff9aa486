import type { DomainRecord, TenantRecord } from '../registry/index.js';

/** The stable JSON shape of a tenant (documented in the README). Never holds a password. */
export interface TenantView {
  id: string;
  name: string;
  status: string;
  statusReason: string | null;
  server: string;
  database: string;
  dbUser: string | null;
  primaryDomain: string | null;
  domains: Array<{ domain: string; primary: boolean }>;
  maintenance: { message: string | null; allowIps: string[]; retryAfter: number | null } | null;
  homepage: boolean;
  settings: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  lastMigratedAt: string | null;
}

export function tenantView(tenant: TenantRecord, domains: DomainRecord[]): TenantView {
  const { maintenance, homepage, ...settings } = tenant.settings;
  const own = domains.filter((domain) => domain.tenantId === tenant.id);
  return {
    id: tenant.id,
    name: tenant.name,
    status: tenant.status,
    statusReason: tenant.statusReason,
    server: tenant.server,
    database: tenant.database,
    dbUser: tenant.dbUser,
    primaryDomain: own.find((domain) => domain.primary)?.domain ?? null,
    domains: own.map((domain) => ({ domain: domain.domain, primary: domain.primary })),
    maintenance: maintenance
      ? { message: maintenance.message, allowIps: maintenance.allow_ips, retryAfter: maintenance.retry_after }
      : null,
    homepage: homepage ?? false,
    settings,
    createdAt: tenant.createdAt,
    updatedAt: tenant.updatedAt,
    lastMigratedAt: tenant.lastMigratedAt,
  };
}
