import type { Knex } from 'knex';
import { InputError } from '../errors.js';
import {
  PROVISIONING,
  TENANT_STATUSES,
  type RegistryStatus,
  type TenantStatus,
} from '../validation/index.js';
import type { NewTenant, RegistryStore, TenantPatch } from './store.js';
import { fromDbTime, toDbTime } from './time.js';
import type {
  DomainRecord,
  ProvisioningPlan,
  TenantListFilter,
  TenantRecord,
  TenantSettings,
  TenantSortKey,
} from './types.js';

/** What afty keeps about a tenant that the application's tables have no column for. */
export const STATE = 'afty_tenant_state';

/**
 * How an application's own tenants/domains tables hold afty's fields. A field without a
 * column lives in afty_tenant_state. Built per kind (stancl.ts, mapping.ts) from the config and
 * the columns the tables really have.
 */
export interface TableLayout {
  tenants: string;
  id: string;
  /** Column holding the database name (ArtFlow's database_name, a mapping's database). */
  databaseColumn?: string;
  nameColumn?: string;
  statusColumn?: string;
  /** A JSON text column of settings (ArtFlow's settings). */
  settingsColumn?: string;
  createdAt?: string;
  updatedAt?: string;
  /** stancl's `data` JSON column: tenancy_db_name, tenancy_db_username, tenancy_db_password. */
  dataColumn?: string;
  domains?: {
    table: string;
    domain: string;
    tenant: string;
    primary?: string;
    createdAt?: string;
    updatedAt?: string;
  };
  /** Ids for new tenants, when the application generates them. */
  generateId?(): string;
  /** How defaultDatabase names start. */
  databasePrefix: string;
  /** The database name of a tenant none of the above names. */
  defaultDatabase(id: string): string;
  /** JSON as the application writes it. */
  json(value: unknown): string;
  /** A timestamp as the application writes it. */
  time(date?: Date): string;
}

const DB_NAME = 'tenancy_db_name';
const DB_USER = 'tenancy_db_username';
const DB_PASSWORD = 'tenancy_db_password';

interface StateRow {
  tenant_id: string;
  server: string | null;
  name: string | null;
  status: string | null;
  status_reason: string | null;
  settings: string | null;
  db_user: string | null;
  db_password: string | null;
  provisioning: string | null;
  created_at: string | null;
  last_migrated_at: string | null;
}

type Row = Record<string, unknown>;

/** JSON columns come back as text (MariaDB, SQLite) or parsed (MySQL 8). */
function parseJson(value: unknown): Record<string, unknown> {
  if (value === null || value === undefined || value === '') return {};
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  // PHP encodes an empty array as [] where an object was meant.
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : {};
}

function text(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  return String(value);
}

const COMPARE: Record<TenantSortKey, (tenant: TenantRecord) => string> = {
  id: (tenant) => tenant.id,
  name: (tenant) => tenant.name,
  status: (tenant) => tenant.status,
  server: (tenant) => tenant.server,
  created: (tenant) => tenant.createdAt,
  updated: (tenant) => tenant.updatedAt,
  migrated: (tenant) => tenant.lastMigratedAt ?? '',
};

/**
 * A registry in an application's own tables (stancl/tenancy's, or a mapped home-grown one),
 * read and written in that application's format so it keeps working. Lists are filtered and
 * sorted in memory: such tables have no afty columns to filter on, and fleets are thousands of
 * rows, not millions.
 */
export class TableStore implements RegistryStore {
  constructor(
    private readonly db: Knex,
    private readonly layout: TableLayout,
    private readonly defaultServer: string,
    /** True for stancl: tenancy_db_password is stored as Laravel reads it. */
    readonly plainPasswords: boolean,
  ) {}

  get databasePrefix(): string {
    return this.layout.databasePrefix;
  }

  generateId(): string | undefined {
    return this.layout.generateId?.();
  }

  databaseNameFor(id: string): string {
    return this.layout.defaultDatabase(id);
  }

  private toTenant(row: Row, state: StateRow | undefined): TenantRecord {
    const layout = this.layout;
    const id = String(row[layout.id]);
    const data = layout.dataColumn ? parseJson(row[layout.dataColumn]) : {};
    const stored = layout.statusColumn ? text(row[layout.statusColumn]) : state?.status;
    const status: RegistryStatus = state?.provisioning
      ? PROVISIONING
      : TENANT_STATUSES.includes(stored as TenantStatus)
        ? (stored as TenantStatus)
        : 'active';
    const settings = layout.settingsColumn
      ? parseJson(row[layout.settingsColumn])
      : state?.settings
        ? parseJson(state.settings)
        : {};
    const created =
      fromDbTime(layout.createdAt ? text(row[layout.createdAt]) : null) ??
      fromDbTime(state?.created_at) ??
      new Date(0).toISOString();
    return {
      id,
      name: (layout.nameColumn ? text(row[layout.nameColumn]) : state?.name) ?? id,
      status,
      statusReason: state?.status_reason ?? null,
      server: state?.server ?? this.defaultServer,
      database:
        (layout.databaseColumn ? text(row[layout.databaseColumn]) : null) ??
        text(data[DB_NAME]) ??
        layout.defaultDatabase(id),
      dbUser: layout.dataColumn ? text(data[DB_USER]) : (state?.db_user ?? null),
      dbPassword: layout.dataColumn ? text(data[DB_PASSWORD]) : (state?.db_password ?? null),
      settings: settings as TenantSettings,
      createdAt: created,
      updatedAt: fromDbTime(layout.updatedAt ? text(row[layout.updatedAt]) : null) ?? created,
      lastMigratedAt: fromDbTime(state?.last_migrated_at),
      provisioning: state?.provisioning ? (JSON.parse(state.provisioning) as ProvisioningPlan) : null,
      ...(this.plainPasswords ? { plainPassword: true as const } : {}),
    };
  }

  private async states(ids?: string[]): Promise<Map<string, StateRow>> {
    const rows: StateRow[] = [];
    if (ids === undefined) rows.push(...((await this.db(STATE).select('*')) as StateRow[]));
    else {
      for (let start = 0; start < ids.length; start += 500) {
        rows.push(
          ...((await this.db(STATE).whereIn('tenant_id', ids.slice(start, start + 500))) as StateRow[]),
        );
      }
    }
    return new Map(rows.map((row) => [row.tenant_id, row]));
  }

  private async tenantsWhere(query?: (builder: Knex.QueryBuilder) => void): Promise<TenantRecord[]> {
    const builder = this.db(this.layout.tenants).select('*');
    query?.(builder);
    const rows = (await builder) as Row[];
    const states = await this.states(
      rows.length > 200 || !query ? undefined : rows.map((row) => String(row[this.layout.id])),
    );
    return rows.map((row) => this.toTenant(row, states.get(String(row[this.layout.id]))));
  }

  async findTenant(id: string): Promise<TenantRecord | undefined> {
    return (await this.tenantsWhere((query) => query.where(this.layout.id, id)))[0];
  }

  async findTenantByDomain(domain: string): Promise<TenantRecord | undefined> {
    const record = await this.findDomain(domain.toLowerCase());
    return record ? this.findTenant(record.tenantId) : undefined;
  }

  async findTenantByDatabase(server: string, database: string): Promise<TenantRecord | undefined> {
    return (await this.tenantsWhere()).find(
      (tenant) => tenant.server === server && tenant.database === database,
    );
  }

  private async matching(filter: TenantListFilter): Promise<TenantRecord[]> {
    let tenants = await this.tenantsWhere();
    const ids = filter.ids ? new Set(filter.ids) : undefined;
    const exclude = new Set(filter.exclude ?? []);
    tenants = tenants.filter(
      (tenant) =>
        (!ids || ids.has(tenant.id)) &&
        !exclude.has(tenant.id) &&
        (filter.status?.length ? filter.status.includes(tenant.status) : tenant.status !== PROVISIONING) &&
        (!filter.server?.length || filter.server.includes(tenant.server)) &&
        (filter.maintenance === undefined || Boolean(tenant.settings.maintenance) === filter.maintenance),
    );
    if (filter.search) {
      const needle = filter.search.toLowerCase();
      const domains = this.layout.domains ? await this.listDomains(tenants.map((tenant) => tenant.id)) : [];
      const byDomain = new Set(
        domains.filter((domain) => domain.domain.includes(needle)).map((domain) => domain.tenantId),
      );
      tenants = tenants.filter(
        (tenant) =>
          tenant.id.toLowerCase().includes(needle) ||
          tenant.name.toLowerCase().includes(needle) ||
          byDomain.has(tenant.id),
      );
    }
    return tenants;
  }

  async listTenants(filter: TenantListFilter): Promise<TenantRecord[]> {
    const tenants = await this.matching(filter);
    const sort = filter.sort ?? { key: 'id', descending: false };
    const key = COMPARE[sort.key];
    tenants.sort((a, b) => {
      const order = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
      return (sort.descending ? -order : order) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
    const offset = filter.offset ?? 0;
    return tenants.slice(offset, filter.limit === undefined ? undefined : offset + filter.limit);
  }

  async countTenants(filter: TenantListFilter): Promise<number> {
    return (await this.matching(filter)).length;
  }

  async countTenantsByServer(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const tenant of await this.tenantsWhere())
      counts.set(tenant.server, (counts.get(tenant.server) ?? 0) + 1);
    return counts;
  }

  private toDomain(row: Row): DomainRecord {
    const domains = this.layout.domains!;
    return {
      domain: String(row[domains.domain]),
      tenantId: String(row[domains.tenant]),
      primary: domains.primary ? Boolean(Number(row[domains.primary])) : false,
      createdAt:
        fromDbTime(domains.createdAt ? text(row[domains.createdAt]) : null) ?? new Date(0).toISOString(),
    };
  }

  /** Primary first, then the oldest: without an is_primary column the oldest domain is the primary. */
  private ordered(records: DomainRecord[]): DomainRecord[] {
    const sorted = records.sort(
      (a, b) =>
        (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0) ||
        Number(b.primary) - Number(a.primary) ||
        (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0) ||
        (a.domain < b.domain ? -1 : 1),
    );
    if (!this.layout.domains?.primary) {
      const seen = new Set<string>();
      for (const record of sorted) {
        record.primary = !seen.has(record.tenantId);
        seen.add(record.tenantId);
      }
    }
    return sorted;
  }

  async listDomains(tenantIds?: string[]): Promise<DomainRecord[]> {
    const domains = this.layout.domains;
    if (!domains) return [];
    const rows: Row[] = [];
    if (tenantIds === undefined) rows.push(...((await this.db(domains.table).select('*')) as Row[]));
    else {
      for (let start = 0; start < tenantIds.length; start += 500) {
        rows.push(
          ...((await this.db(domains.table).whereIn(
            domains.tenant,
            tenantIds.slice(start, start + 500),
          )) as Row[]),
        );
      }
    }
    return this.ordered(rows.map((row) => this.toDomain(row)));
  }

  async findDomain(domain: string): Promise<DomainRecord | undefined> {
    const domains = this.layout.domains;
    if (!domains) return undefined;
    const row = (await this.db(domains.table).where(domains.domain, domain).first()) as Row | undefined;
    if (!row) return undefined;
    return (await this.listDomains([String(row[domains.tenant])])).find((record) => record.domain === domain);
  }

  /** The application's columns for name, status, settings; the rest goes to afty_tenant_state. */
  private split(fields: { name?: string; status?: RegistryStatus; settings?: TenantSettings }): {
    row: Row;
    state: Partial<StateRow>;
  } {
    const layout = this.layout;
    const row: Row = {};
    const state: Partial<StateRow> = {};
    if (fields.name !== undefined) {
      if (layout.nameColumn) row[layout.nameColumn] = fields.name;
      else state.name = fields.name;
    }
    if (fields.status !== undefined) {
      // The application never sees "provisioning": it reads a half-created tenant as inactive.
      const visible = fields.status === PROVISIONING ? 'inactive' : fields.status;
      if (layout.statusColumn) row[layout.statusColumn] = visible;
      else state.status = visible;
    }
    if (fields.settings !== undefined) {
      if (layout.settingsColumn) row[layout.settingsColumn] = layout.json(fields.settings);
      else state.settings = JSON.stringify(fields.settings);
    }
    return { row, state };
  }

  private async saveState(trx: Knex, id: string, state: Partial<StateRow>): Promise<void> {
    if (Object.keys(state).length === 0) return;
    await trx(STATE)
      .insert({ tenant_id: id, ...state })
      .onConflict('tenant_id')
      .merge(Object.keys(state));
  }

  async insertTenant(tenant: NewTenant): Promise<void> {
    const layout = this.layout;
    const now = layout.time();
    const { row, state } = this.split(tenant);
    row[layout.id] = tenant.id;
    if (layout.createdAt) row[layout.createdAt] = now;
    if (layout.updatedAt) row[layout.updatedAt] = now;
    if (layout.databaseColumn) row[layout.databaseColumn] = tenant.database;
    if (layout.dataColumn) {
      // What stancl's CreateDatabase job records (DatabaseConfig::makeCredentials).
      const data: Record<string, unknown> = { [DB_NAME]: tenant.database };
      if (tenant.dbUser) data[DB_USER] = tenant.dbUser;
      if (tenant.dbPassword) data[DB_PASSWORD] = tenant.dbPassword;
      row[layout.dataColumn] = layout.json(data);
    } else if (tenant.dbUser) {
      state.db_user = tenant.dbUser;
      state.db_password = tenant.dbPassword;
    }
    state.server = tenant.server;
    state.provisioning = tenant.provisioning ? JSON.stringify(tenant.provisioning) : null;
    if (!layout.createdAt) state.created_at = toDbTime();
    await this.db.transaction(async (trx) => {
      await trx(layout.tenants).insert(row);
      await this.saveState(trx, tenant.id, state);
      const domains = layout.domains;
      if (domains && tenant.domains.length > 0) {
        await trx(domains.table).insert(
          tenant.domains.map((domain, index) => this.domainRow(tenant.id, domain, index === 0)),
        );
      }
    });
  }

  private domainRow(tenantId: string, domain: string, primary: boolean): Row {
    const domains = this.layout.domains!;
    const now = this.layout.time();
    const row: Row = { [domains.domain]: domain, [domains.tenant]: tenantId };
    if (domains.primary) row[domains.primary] = primary;
    if (domains.createdAt) row[domains.createdAt] = now;
    if (domains.updatedAt) row[domains.updatedAt] = now;
    return row;
  }

  async updateTenant(id: string, patch: TenantPatch): Promise<void> {
    const layout = this.layout;
    const { row, state } = this.split(patch);
    if (patch.statusReason !== undefined) state.status_reason = patch.statusReason;
    if (patch.server !== undefined) state.server = patch.server;
    if (patch.lastMigratedAt !== undefined) state.last_migrated_at = toDbTime(patch.lastMigratedAt);
    if (patch.provisioning !== undefined) {
      state.provisioning = patch.provisioning ? JSON.stringify(patch.provisioning) : null;
    }
    await this.db.transaction(async (trx) => {
      if (patch.dbUser !== undefined || patch.dbPassword !== undefined) {
        if (layout.dataColumn) {
          const current = (await trx(layout.tenants).where(layout.id, id).first(layout.dataColumn)) as
            Row | undefined;
          const data = parseJson(current?.[layout.dataColumn]);
          const set = (key: string, value: string | null | undefined) => {
            if (value === null) delete data[key];
            else if (value !== undefined) data[key] = value;
          };
          set(DB_USER, patch.dbUser);
          set(DB_PASSWORD, patch.dbPassword);
          row[layout.dataColumn] = layout.json(data);
        } else {
          if (patch.dbUser !== undefined) state.db_user = patch.dbUser;
          if (patch.dbPassword !== undefined) state.db_password = patch.dbPassword;
        }
      }
      // Like Eloquent: updated_at moves only when the application's row changes.
      if (Object.keys(row).length > 0) {
        if (layout.updatedAt) row[layout.updatedAt] = layout.time();
        await trx(layout.tenants).where(layout.id, id).update(row);
      }
      await this.saveState(trx, id, state);
    });
  }

  async deleteTenant(id: string): Promise<void> {
    const layout = this.layout;
    await this.db.transaction(async (trx) => {
      if (layout.domains) await trx(layout.domains.table).where(layout.domains.tenant, id).delete();
      await trx(layout.tenants).where(layout.id, id).delete();
      await trx(STATE).where({ tenant_id: id }).delete();
    });
  }

  async addDomain(tenantId: string, domain: string, primary: boolean): Promise<void> {
    const domains = this.requireDomains();
    await this.db.transaction(async (trx) => {
      const existing = (await trx(domains.table)
        .where(domains.tenant, tenantId)
        .count({ count: '*' })
        .first()) as {
        count: number | string;
      };
      if (primary && Number(existing.count) > 0) this.primaryColumn();
      const makePrimary = primary || Number(existing.count) === 0;
      if (makePrimary && domains.primary) {
        await trx(domains.table)
          .where(domains.tenant, tenantId)
          .update({ [domains.primary]: false });
      }
      await trx(domains.table).insert(this.domainRow(tenantId, domain, makePrimary));
    });
  }

  async removeDomain(domain: string): Promise<void> {
    const domains = this.requireDomains();
    const record = await this.findDomain(domain);
    if (!record) return;
    await this.db.transaction(async (trx) => {
      await trx(domains.table).where(domains.domain, domain).delete();
      if (record.primary && domains.primary) {
        const next = (await trx(domains.table)
          .where(domains.tenant, record.tenantId)
          .orderBy(
            domains.createdAt
              ? [{ column: domains.createdAt }, { column: domains.domain }]
              : [{ column: domains.domain }],
          )
          .first()) as Row | undefined;
        if (next)
          await trx(domains.table)
            .where(domains.domain, String(next[domains.domain]))
            .update({ [domains.primary]: true });
      }
    });
  }

  async setPrimaryDomain(tenantId: string, domain: string): Promise<void> {
    const domains = this.requireDomains();
    const primary = this.primaryColumn();
    await this.db.transaction(async (trx) => {
      await trx(domains.table)
        .where(domains.tenant, tenantId)
        .update({ [primary]: false });
      await trx(domains.table)
        .where(domains.domain, domain)
        .andWhere(domains.tenant, tenantId)
        .update({ [primary]: true });
    });
  }

  private requireDomains(): NonNullable<TableLayout['domains']> {
    if (!this.layout.domains) {
      throw new InputError('this registry has no domains table', {
        hint: 'name it in registry.mapping.domains (see docs/registries.md)',
      });
    }
    return this.layout.domains;
  }

  private primaryColumn(): string {
    const column = this.requireDomains().primary;
    if (!column) {
      throw new InputError(
        `the ${this.layout.domains!.table} table has no primary-domain column: a tenant's oldest domain is its primary`,
        {
          hint: 'add the column (ArtFlow: domains.is_primary) or remove and re-add domains to change the order',
        },
      );
    }
    return column;
  }
}
