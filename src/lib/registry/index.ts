import type { Knex } from 'knex';
import type { AftyConfig } from '../config/index.js';
import type { DatabaseLocation } from '../config/urls.js';
import { describeLocation } from '../config/urls.js';
import {
  AftyError,
  ServiceError,
  classifyDriverError,
  driverMessage,
  isMissingDatabaseError,
} from '../errors.js';
import { engineFor } from '../servers/engines/index.js';
import { createKnex } from '../servers/knex.js';
import { RunStore } from './runs.js';
import { ensureRegistrySchema } from './schema.js';
import type { NewTenant, RegistryStore, TenantPatch } from './store.js';
import { openStore } from './stores.js';
import { fromDbTime, toDbTime } from './time.js';
import type { AuditEntry, DomainRecord, LockHolder, TenantListFilter, TenantRecord } from './types.js';

export * from './types.js';
export type { NewRun, RunFilter, RunPart, RunSummary, RunTenantRow, RunTenantStatus } from './runs.js';
export { RunStore } from './runs.js';
export { REGISTRY_SCHEMA_VERSION, registrySchemaVersion } from './schema.js';
export { toDbTime, fromDbTime } from './time.js';
export type { NewTenant, RegistryStore, TenantPatch } from './store.js';

const AUDIT = 'afty_audit';
const LOCK_HOLDERS = 'afty_lock_holders';

/**
 * The central registry: tenants and domains (through the RegistryStore of `registry.kind`), and
 * afty's own audit log, run records and lock holders (always afty_* tables in the same database).
 */
export class Registry {
  private constructor(
    readonly db: Knex,
    readonly location: DatabaseLocation,
    private readonly store: RegistryStore,
  ) {}

  /** Connects, creates or upgrades afty's schema and checks the registry's own tables. Unreachable → exit 3. */
  static async open(config: AftyConfig): Promise<Registry> {
    const location = config.central;
    const db = await createKnex(location, { poolMax: 4, shared: true });
    let store: RegistryStore;
    try {
      await ensureRegistrySchema(db);
      store = await openStore(db, config);
    } catch (error) {
      await db.destroy();
      if (error instanceof AftyError) throw error;
      const classified = classifyDriverError(error, {
        target: `the central registry at ${describeLocation(location)}`,
        credentials: location.driver === 'sqlite' ? undefined : location.source,
      });
      if (classified) throw classified;
      const missing = isMissingDatabaseError(error);
      if (missing || location.driver === 'sqlite') {
        throw new ServiceError(
          `cannot open the central registry at ${describeLocation(location)}: ${driverMessage(error)}`,
          {
            hint: missing
              ? 'run afty init to create it'
              : 'check "central" in the config or AFTY_CENTRAL_URL',
            cause: error,
          },
        );
      }
      throw error;
    }
    return new Registry(db, location, store);
  }

  /**
   * Creates the central MySQL or PostgreSQL database if it does not exist (afty init). An account that may not
   * create databases is fine when the database is there already (a DBA made it); when it is not,
   * the error says what to run. SQLite files appear on open.
   */
  static async createDatabase(location: DatabaseLocation): Promise<void> {
    if (location.driver === 'sqlite') return;
    const where = describeLocation(location);
    try {
      await engineFor(location).createRegistryDatabase(location);
    } catch (error) {
      throw (
        classifyDriverError(error, {
          target: `the central registry at ${where}`,
          credentials: location.source,
        }) ??
        new ServiceError(`cannot create the central database at ${where}: ${driverMessage(error)}`, {
          cause: error,
        })
      );
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** Run records (afty runs), in the same database. */
  get runs(): RunStore {
    return new RunStore(this.db);
  }

  /** How the names of the databases the registry gives new tenants start. */
  get databasePrefix(): string {
    return this.store.databasePrefix;
  }

  /** An id for a new tenant when the registry generates them, else undefined. */
  generateId(): string | undefined {
    return this.store.generateId();
  }

  /** The database name a new tenant gets when none is given. */
  databaseNameFor(id: string): string {
    return this.store.databaseNameFor(id);
  }

  /** Whether tenant passwords are kept as the registry's application reads them (not encrypted). */
  get plainPasswords(): boolean {
    return this.store.plainPasswords;
  }

  findTenant(id: string): Promise<TenantRecord | undefined> {
    return this.store.findTenant(id);
  }

  findTenantByDomain(domain: string): Promise<TenantRecord | undefined> {
    return this.store.findTenantByDomain(domain);
  }

  findTenantByDatabase(server: string, database: string): Promise<TenantRecord | undefined> {
    return this.store.findTenantByDatabase(server, database);
  }

  listTenants(filter: TenantListFilter = {}): Promise<TenantRecord[]> {
    return this.store.listTenants(filter);
  }

  countTenants(filter: TenantListFilter = {}): Promise<number> {
    return this.store.countTenants(filter);
  }

  countTenantsByServer(): Promise<Map<string, number>> {
    return this.store.countTenantsByServer();
  }

  /** Domains of the given tenants (all tenants when omitted), primary first. */
  listDomains(tenantIds?: string[]): Promise<DomainRecord[]> {
    return this.store.listDomains(tenantIds);
  }

  findDomain(domain: string): Promise<DomainRecord | undefined> {
    return this.store.findDomain(domain);
  }

  insertTenant(tenant: NewTenant): Promise<void> {
    return this.store.insertTenant(tenant);
  }

  updateTenant(id: string, patch: TenantPatch): Promise<void> {
    return this.store.updateTenant(id, patch);
  }

  /** Deletes the tenant row and its domains. */
  deleteTenant(id: string): Promise<void> {
    return this.store.deleteTenant(id);
  }

  /** Adds a domain; the first domain of a tenant, or `primary`, becomes its primary. */
  addDomain(tenantId: string, domain: string, primary: boolean): Promise<void> {
    return this.store.addDomain(tenantId, domain, primary);
  }

  /** Removes a domain; if it was primary, the oldest remaining domain becomes primary. */
  removeDomain(domain: string): Promise<void> {
    return this.store.removeDomain(domain);
  }

  setPrimaryDomain(tenantId: string, domain: string): Promise<void> {
    return this.store.setPrimaryDomain(tenantId, domain);
  }

  /** Records that this process took the tenant's migration lock. */
  async recordLockHolder(tenantId: string, holder: { host: string; pid: number }): Promise<void> {
    const row = {
      tenant_id: tenantId,
      host: holder.host.slice(0, 255),
      pid: holder.pid,
      acquired_at: toDbTime(),
    };
    await this.db(LOCK_HOLDERS).insert(row).onConflict('tenant_id').merge();
  }

  async clearLockHolder(tenantId: string): Promise<void> {
    await this.db(LOCK_HOLDERS).where({ tenant_id: tenantId }).delete();
  }

  /** Who afty recorded as holding the tenant's migration lock, if anyone. */
  async lockHolder(tenantId: string): Promise<LockHolder | undefined> {
    const row = (await this.db(LOCK_HOLDERS).where({ tenant_id: tenantId }).first()) as
      { host: string; pid: number; acquired_at: string } | undefined;
    return row
      ? { host: row.host, pid: Number(row.pid), acquiredAt: fromDbTime(row.acquired_at)! }
      : undefined;
  }

  async recordAudit(entry: AuditEntry): Promise<void> {
    await this.db(AUDIT).insert({
      at: toDbTime(),
      actor: entry.actor.slice(0, 191),
      command: entry.command.slice(0, 191),
      tenant_id: entry.tenantId ?? null,
      outcome: entry.outcome,
      arguments: JSON.stringify(entry.arguments),
      error: entry.error ?? null,
    });
  }

  async listAudit(limit = 50): Promise<Array<AuditEntry & { at: string }>> {
    const rows = (await this.db(AUDIT).orderBy('id', 'desc').limit(limit)) as Array<{
      at: string;
      actor: string;
      command: string;
      tenant_id: string | null;
      outcome: 'ok' | 'failed';
      arguments: string;
      error: string | null;
    }>;
    return rows.map((row) => ({
      at: fromDbTime(row.at)!,
      actor: row.actor,
      command: row.command,
      tenantId: row.tenant_id,
      outcome: row.outcome,
      arguments: JSON.parse(row.arguments) as string[],
      error: row.error,
    }));
  }
}
