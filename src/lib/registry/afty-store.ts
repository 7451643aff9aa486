import type { Knex } from 'knex';
import { tenantDatabaseName } from '../tenants/naming.js';
import { PROVISIONING, type RegistryStatus } from '../validation/index.js';
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

const TENANTS = 'afty_tenants';
const DOMAINS = 'afty_domains';

interface TenantRow {
  id: string;
  name: string;
  status: string;
  status_reason: string | null;
  server: string;
  database: string;
  db_user: string | null;
  db_password: string | null;
  settings: string;
  created_at: string;
  updated_at: string;
  last_migrated_at: string | null;
  provisioning: string | null;
}

const SORT_COLUMNS: Record<TenantSortKey, string> = {
  id: 'id',
  name: 'name',
  status: 'status',
  server: 'server',
  created: 'created_at',
  updated: 'updated_at',
  migrated: 'last_migrated_at',
};

function toTenant(row: TenantRow): TenantRecord {
  return {
    id: row.id,
    name: row.name,
    status: row.status as RegistryStatus,
    statusReason: row.status_reason,
    server: row.server,
    database: row.database,
    dbUser: row.db_user,
    dbPassword: row.db_password,
    settings: JSON.parse(row.settings) as TenantSettings,
    createdAt: fromDbTime(row.created_at)!,
    updatedAt: fromDbTime(row.updated_at)!,
    lastMigratedAt: fromDbTime(row.last_migrated_at),
    provisioning: row.provisioning ? (JSON.parse(row.provisioning) as ProvisioningPlan) : null,
  };
}

interface DomainRow {
  domain: string;
  tenant_id: string;
  is_primary: number | boolean;
  created_at: string;
}

function toDomain(row: DomainRow): DomainRecord {
  return {
    domain: row.domain,
    tenantId: row.tenant_id,
    primary: Boolean(row.is_primary),
    createdAt: fromDbTime(row.created_at)!,
  };
}

/**
 * A LIKE pattern matching `text` literally anywhere. `!` is the escape character: a backslash
 * means different things to MySQL (a string escape too) and SQLite, and broke every MySQL search.
 */
function likePattern(text: string): string {
  return `%${text.replace(/[!_%]/g, (char) => `!${char}`)}%`;
}

/** registry.kind "afty": afty's own tables (afty_tenants, afty_domains). */
export class AftyStore implements RegistryStore {
  readonly plainPasswords = false;

  constructor(
    private readonly db: Knex,
    readonly databasePrefix: string,
  ) {}

  generateId(): undefined {
    return undefined;
  }

  databaseNameFor(id: string): string {
    return tenantDatabaseName(this.databasePrefix, id);
  }

  async findTenantByDatabase(server: string, database: string): Promise<TenantRecord | undefined> {
    const row = (await this.db<TenantRow>(TENANTS).where({ server, database }).first()) as
      TenantRow | undefined;
    return row ? toTenant(row) : undefined;
  }

  async findTenant(id: string): Promise<TenantRecord | undefined> {
    const row = (await this.db<TenantRow>(TENANTS).where({ id }).first()) as TenantRow | undefined;
    return row ? toTenant(row) : undefined;
  }

  async findTenantByDomain(domain: string): Promise<TenantRecord | undefined> {
    const row = (await this.db<TenantRow>(TENANTS)
      .join(DOMAINS, `${DOMAINS}.tenant_id`, `${TENANTS}.id`)
      .where(`${DOMAINS}.domain`, domain.toLowerCase())
      .first(`${TENANTS}.*`)) as TenantRow | undefined;
    return row ? toTenant(row) : undefined;
  }

  private filtered(filter: TenantListFilter): Knex.QueryBuilder {
    const query = this.db(TENANTS);
    if (filter.ids) query.whereIn('id', filter.ids);
    if (filter.status?.length) query.whereIn('status', filter.status);
    else query.whereNot('status', PROVISIONING);
    if (filter.server?.length) query.whereIn('server', filter.server);
    if (filter.exclude?.length) query.whereNotIn('id', filter.exclude);
    // settings is JSON text; SQLite and MySQL/MariaDB both read it with json_extract.
    if (filter.maintenance !== undefined) {
      query.whereRaw(`json_extract(??, '$.maintenance') is ${filter.maintenance ? 'not ' : ''}null`, [
        `${TENANTS}.settings`,
      ]);
    }
    if (filter.search) {
      const pattern = likePattern(filter.search.toLowerCase());
      query.where((where) => {
        where
          .whereRaw("lower(??) like ? escape '!'", ['id', pattern])
          .orWhereRaw("lower(??) like ? escape '!'", ['name', pattern])
          .orWhereExists((exists) => {
            exists
              .select(this.db.raw('1'))
              .from(DOMAINS)
              .whereRaw('?? = ??', [`${DOMAINS}.tenant_id`, `${TENANTS}.id`])
              .andWhereRaw("?? like ? escape '!'", [`${DOMAINS}.domain`, pattern]);
          });
      });
    }
    return query;
  }

  async listTenants(filter: TenantListFilter = {}): Promise<TenantRecord[]> {
    const query = this.filtered(filter).select(`${TENANTS}.*`);
    const sort = filter.sort ?? { key: 'id', descending: false };
    query.orderBy(SORT_COLUMNS[sort.key], sort.descending ? 'desc' : 'asc');
    if (sort.key !== 'id') query.orderBy('id', 'asc');
    if (filter.limit !== undefined) query.limit(filter.limit);
    if (filter.offset) {
      if (filter.limit === undefined) query.limit(Number.MAX_SAFE_INTEGER);
      query.offset(filter.offset);
    }
    return ((await query) as TenantRow[]).map(toTenant);
  }

  async countTenants(filter: TenantListFilter = {}): Promise<number> {
    const row = (await this.filtered(filter).count({ count: '*' }).first()) as { count: number | string };
    return Number(row.count);
  }

  async countTenantsByServer(): Promise<Map<string, number>> {
    const rows = (await this.db(TENANTS).select('server').count({ count: '*' }).groupBy('server')) as Array<{
      server: string;
      count: number | string;
    }>;
    return new Map(rows.map((row) => [row.server, Number(row.count)]));
  }

  /** Domains of the given tenants (all tenants when omitted), primary first. */
  async listDomains(tenantIds?: string[]): Promise<DomainRecord[]> {
    const query = this.db(DOMAINS)
      .select('*')
      .orderBy([{ column: 'tenant_id' }, { column: 'is_primary', order: 'desc' }, { column: 'domain' }]);
    const rows: DomainRow[] = [];
    if (tenantIds === undefined) rows.push(...(await query));
    else {
      // Chunked so large fleets stay under the drivers' bound-parameter limits.
      for (let start = 0; start < tenantIds.length; start += 500) {
        rows.push(...(await query.clone().whereIn('tenant_id', tenantIds.slice(start, start + 500))));
      }
    }
    return rows.map(toDomain);
  }

  async findDomain(domain: string): Promise<DomainRecord | undefined> {
    const row = (await this.db(DOMAINS).where({ domain }).first()) as DomainRow | undefined;
    return row ? toDomain(row) : undefined;
  }

  async insertTenant(tenant: NewTenant): Promise<void> {
    const now = toDbTime();
    await this.db.transaction(async (trx) => {
      await trx(TENANTS).insert({
        id: tenant.id,
        name: tenant.name,
        status: tenant.status,
        server: tenant.server,
        database: tenant.database,
        db_user: tenant.dbUser,
        db_password: tenant.dbPassword,
        settings: JSON.stringify(tenant.settings),
        provisioning: tenant.provisioning ? JSON.stringify(tenant.provisioning) : null,
        created_at: now,
        updated_at: now,
      });
      if (tenant.domains.length > 0) {
        await trx(DOMAINS).insert(
          tenant.domains.map((domain, index) => ({
            domain,
            tenant_id: tenant.id,
            is_primary: index === 0,
            created_at: now,
          })),
        );
      }
    });
  }

  async updateTenant(id: string, patch: TenantPatch): Promise<void> {
    const row: Record<string, unknown> = { updated_at: toDbTime() };
    if (patch.name !== undefined) row.name = patch.name;
    if (patch.server !== undefined) row.server = patch.server;
    if (patch.status !== undefined) row.status = patch.status;
    if (patch.statusReason !== undefined) row.status_reason = patch.statusReason;
    if (patch.settings !== undefined) row.settings = JSON.stringify(patch.settings);
    if (patch.dbUser !== undefined) row.db_user = patch.dbUser;
    if (patch.dbPassword !== undefined) row.db_password = patch.dbPassword;
    if (patch.lastMigratedAt !== undefined) row.last_migrated_at = toDbTime(patch.lastMigratedAt);
    if (patch.provisioning !== undefined) {
      row.provisioning = patch.provisioning ? JSON.stringify(patch.provisioning) : null;
    }
    await this.db(TENANTS).where({ id }).update(row);
  }

  /** Deletes the tenant row and its domains. */
  async deleteTenant(id: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx(DOMAINS).where({ tenant_id: id }).delete();
      await trx(TENANTS).where({ id }).delete();
    });
  }

  /** Adds a domain; the first domain of a tenant, or `primary`, becomes its primary. */
  async addDomain(tenantId: string, domain: string, primary: boolean): Promise<void> {
    await this.db.transaction(async (trx) => {
      const existing = (await trx(DOMAINS).where({ tenant_id: tenantId }).count({ count: '*' }).first()) as {
        count: number | string;
      };
      const makePrimary = primary || Number(existing.count) === 0;
      if (makePrimary) await trx(DOMAINS).where({ tenant_id: tenantId }).update({ is_primary: false });
      await trx(DOMAINS).insert({
        domain,
        tenant_id: tenantId,
        is_primary: makePrimary,
        created_at: toDbTime(),
      });
    });
  }

  /** Removes a domain; if it was primary, the oldest remaining domain becomes primary. */
  async removeDomain(domain: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      const row = (await trx(DOMAINS).where({ domain }).first()) as
        { tenant_id: string; is_primary: unknown } | undefined;
      if (!row) return;
      await trx(DOMAINS).where({ domain }).delete();
      if (row.is_primary) {
        const next = (await trx(DOMAINS)
          .where({ tenant_id: row.tenant_id })
          .orderBy([{ column: 'created_at' }, { column: 'domain' }])
          .first()) as { domain: string } | undefined;
        if (next) await trx(DOMAINS).where({ domain: next.domain }).update({ is_primary: true });
      }
    });
  }

  async setPrimaryDomain(tenantId: string, domain: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx(DOMAINS).where({ tenant_id: tenantId }).update({ is_primary: false });
      await trx(DOMAINS).where({ domain, tenant_id: tenantId }).update({ is_primary: true });
    });
  }
}
