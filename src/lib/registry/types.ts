import type { TenantStatus } from '../validation/index.js';

export interface MaintenanceSettings {
  message: string | null;
  allow_ips: string[];
  retry_after: number | null;
}

/** Free-form settings plus the two that have their own flags. */
export interface TenantSettings {
  maintenance?: MaintenanceSettings;
  homepage?: boolean;
  [key: string]: unknown;
}

export interface TenantRecord {
  id: string;
  name: string;
  status: TenantStatus;
  statusReason: string | null;
  server: string;
  database: string;
  dbUser: string | null;
  /** Encrypted (see tenants/credentials); never shown. */
  dbPassword: string | null;
  settings: TenantSettings;
  createdAt: string;
  updatedAt: string;
  lastMigratedAt: string | null;
}

export interface DomainRecord {
  domain: string;
  tenantId: string;
  primary: boolean;
  createdAt: string;
}

export interface TenantListFilter {
  status?: TenantStatus[];
  server?: string[];
  search?: string;
  /** true: only tenants in maintenance; false: only tenants out of it. */
  maintenance?: boolean;
  ids?: string[];
  exclude?: string[];
  sort?: TenantSort;
  limit?: number;
  offset?: number;
}

export const TENANT_SORT_KEYS = ['id', 'name', 'status', 'server', 'created', 'updated', 'migrated'] as const;
export type TenantSortKey = (typeof TENANT_SORT_KEYS)[number];
export interface TenantSort {
  key: TenantSortKey;
  descending: boolean;
}

export interface AuditEntry {
  actor: string;
  command: string;
  tenantId?: string | null;
  outcome: 'ok' | 'failed';
  arguments: string[];
  error?: string | null;
}

/** The afty process recorded as holding a tenant's migration lock. */
export interface LockHolder {
  host: string;
  pid: number;
  acquiredAt: string;
}
