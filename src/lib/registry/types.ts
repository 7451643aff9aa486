import type { RegistryStatus, TenantStatus } from '../validation/index.js';

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

/** What a `tenant create` still in progress was asked to do, so a retry or diagnose can finish it. */
export interface ProvisioningPlan {
  /** The status the tenant gets once everything is done. */
  status: TenantStatus;
  migrate: boolean;
  seed: boolean;
  /** --class as given (split at commas); null for the default seeder. */
  classes: string[] | null;
  /**
   * Where its data comes from when it is a copy (`tenant clone`, `tenant import`): such a tenant is
   * finished by the same command again, never as an empty one.
   */
  copy?: { command: 'clone' | 'import'; from: string };
}

export interface TenantRecord {
  id: string;
  name: string;
  status: RegistryStatus;
  statusReason: string | null;
  server: string;
  database: string;
  dbUser: string | null;
  /** Encrypted (see tenants/credentials) unless plainPassword; never shown. */
  dbPassword: string | null;
  /** Set when the registry keeps the password as its application reads it (stancl's tenancy_db_password). */
  plainPassword?: true;
  settings: TenantSettings;
  createdAt: string;
  updatedAt: string;
  lastMigratedAt: string | null;
  /** Set while the tenant is `provisioning`. */
  provisioning: ProvisioningPlan | null;
}

export interface DomainRecord {
  domain: string;
  tenantId: string;
  primary: boolean;
  createdAt: string;
}

export interface TenantListFilter {
  /** Without it, every status but `provisioning` (half-created tenants are never served). */
  status?: RegistryStatus[];
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
