import type { RegistryStatus } from '../validation/index.js';
import type {
  DomainRecord,
  ProvisioningPlan,
  TenantListFilter,
  TenantRecord,
  TenantSettings,
} from './types.js';

export interface NewTenant {
  id: string;
  name: string;
  status: RegistryStatus;
  server: string;
  database: string;
  dbUser: string | null;
  /** As the store keeps it (see RegistryStore.plainPasswords). */
  dbPassword: string | null;
  settings: TenantSettings;
  domains: string[];
  provisioning?: ProvisioningPlan;
}

export interface TenantPatch {
  name?: string;
  /** A move to another server (the database keeps its name there). */
  server?: string;
  status?: RegistryStatus;
  statusReason?: string | null;
  settings?: TenantSettings;
  dbUser?: string | null;
  dbPassword?: string | null;
  lastMigratedAt?: Date;
  provisioning?: ProvisioningPlan | null;
}

/**
 * Where tenants and domains live: the one seam between afty and a registry format. One
 * implementation per `registry.kind` (afty's own tables, stancl/tenancy's, a column mapping);
 * everything above it (commands, fleet, checks) works with TenantRecord and never knows the kind.
 * afty's own bookkeeping (audit, runs, lock holders) is not part of it: it always lives in the
 * afty_* tables of the same database (see Registry).
 */
export interface RegistryStore {
  /**
   * True when the registry keeps tenant passwords as its application reads them (stancl's
   * tenancy_db_password): afty then stores and reads them as is instead of encrypted.
   */
  readonly plainPasswords: boolean;
  /** How the names of the databases it gives new tenants start (diagnose looks for orphans by it). */
  readonly databasePrefix: string;
  /** An id for a new tenant when the registry generates them (stancl's UUIDGenerator), else undefined. */
  generateId(): string | undefined;
  /** The database name a new tenant gets when none is given. */
  databaseNameFor(id: string): string;
  findTenant(id: string): Promise<TenantRecord | undefined>;
  findTenantByDomain(domain: string): Promise<TenantRecord | undefined>;
  findTenantByDatabase(server: string, database: string): Promise<TenantRecord | undefined>;
  listTenants(filter: TenantListFilter): Promise<TenantRecord[]>;
  countTenants(filter: TenantListFilter): Promise<number>;
  countTenantsByServer(): Promise<Map<string, number>>;
  /** Domains of the given tenants (all tenants when omitted), primary first. */
  listDomains(tenantIds?: string[]): Promise<DomainRecord[]>;
  findDomain(domain: string): Promise<DomainRecord | undefined>;
  insertTenant(tenant: NewTenant): Promise<void>;
  updateTenant(id: string, patch: TenantPatch): Promise<void>;
  /** Deletes the tenant row and its domains. */
  deleteTenant(id: string): Promise<void>;
  /** Adds a domain; the first domain of a tenant, or `primary`, becomes its primary. */
  addDomain(tenantId: string, domain: string, primary: boolean): Promise<void>;
  /** Removes a domain; if it was primary, the oldest remaining domain becomes primary. */
  removeDomain(domain: string): Promise<void>;
  setPrimaryDomain(tenantId: string, domain: string): Promise<void>;
}
