import type { DatabaseLocation } from '../config/urls.js';
import type { AftyContext } from '../context.js';
import { InputError, NotFoundError } from '../errors.js';
import type { ProvisioningPlan, Registry, TenantRecord, TenantSettings } from '../registry/index.js';
import type { DatabaseServer } from '../servers/index.js';
import {
  PROVISIONING,
  looksLikeTenantId,
  shellWord,
  validateDatabaseName,
  validateDomain,
  validateTenantId,
  validateTenantKey,
  validateTenantName,
  type TenantStatus,
} from '../validation/index.js';
import { assertSecret, generatePassword, revealPassword, sealPassword } from './credentials.js';
import { tenantUserName } from './naming.js';
import { runSteps, type Step, type StepHooks } from './saga.js';

export { tenantDatabaseName, tenantUserName } from './naming.js';
export {
  encryptSecret,
  decryptSecret,
  generatePassword,
  isEncrypted,
  revealPassword,
  sealPassword,
  SECRET_HINT,
} from './credentials.js';
export { runSteps, type Step, type StepHooks } from './saga.js';
export { tenantView, type TenantView } from './view.js';

/** Finds a tenant by id or domain; unknown → exit 2 naming what was looked for. */
export async function resolveTenant(registry: Registry, idOrDomain: string): Promise<TenantRecord> {
  // Registries hold ids as they are (stancl UUIDs, integers): the id as given first, then lower-cased.
  const given = idOrDomain.trim();
  const key = given.toLowerCase();
  let found = looksLikeTenantId(given) ? await registry.findTenant(given) : undefined;
  if (!found && key !== given && looksLikeTenantId(key)) found = await registry.findTenant(key);
  if (!found && key.includes('.')) found = await registry.findTenantByDomain(key);
  if (!found) {
    throw new NotFoundError(`no tenant with id or domain ${JSON.stringify(idOrDomain)}`, {
      hint: 'see afty tenant list',
    });
  }
  return found;
}

/** The configured server with the fewest tenants (ties go to the one listed first). */
export async function chooseServer(ctx: AftyContext, registry: Registry): Promise<string> {
  const counts = await registry.countTenantsByServer();
  let best = ctx.servers.names[0]!;
  for (const name of ctx.servers.names) {
    if ((counts.get(name) ?? 0) < (counts.get(best) ?? 0)) best = name;
  }
  return best;
}

/** Whether tenants on this server get a database user of their own. */
export function usesTenantUsers(ctx: AftyContext, server: DatabaseServer): boolean {
  return server.supportsUsers && ctx.config.tenancy.tenantUsers;
}

/** Where tenant-level work connects: as the tenant's own user when it has one. */
export function tenantLocation(ctx: AftyContext, tenant: TenantRecord): DatabaseLocation {
  const server = ctx.servers.get(tenant.server);
  const password = tenant.dbUser ? revealPassword(tenant, ctx.config.secret) : undefined;
  if (tenant.dbUser && password !== undefined) {
    return server.tenantLocation(tenant.database, { user: tenant.dbUser, password });
  }
  return server.tenantLocation(tenant.database);
}

/** Where admin work on a tenant database connects (server credentials). */
export function adminLocation(ctx: AftyContext, tenant: TenantRecord): DatabaseLocation {
  return ctx.servers.get(tenant.server).tenantLocation(tenant.database);
}

export interface CreateTenantInput {
  /** Omitted: the registry generates it (registry.stancl.idGenerator). */
  id?: string;
  name?: string;
  domains?: string[];
  server?: string;
  /** A custom database name [default: the registry's naming of the id]. */
  database?: string;
  status?: TenantStatus;
  /** What the create does after the database exists, recorded so a retry or diagnose can finish it. */
  migrate?: boolean;
  seed?: boolean;
  classes?: string[];
  /** The tenant is a copy (clone, import): recorded so only the same command finishes it. */
  copy?: ProvisioningPlan['copy'];
}

export interface CreateTenantOptions extends StepHooks {
  /** Steps that run after the tenant's database and user exist (migrate, seed). */
  extraSteps?(tenant: TenantRecord): Step[];
}

type ValidatedTenant = Required<
  Omit<CreateTenantInput, 'id' | 'name' | 'server' | 'classes' | 'database' | 'copy'>
> & {
  copy?: ProvisioningPlan['copy'];
  id?: string;
  /** Without --name: the id. */
  name?: string;
  server?: string;
  database?: string;
  classes: string[] | null;
};

/**
 * Validates everything about a new tenant before anything is touched. The id only for safety
 * here: a retry may finish a half-created tenant whose id the registry generated (a UUID);
 * createTenant holds a genuinely new id to the slug rule.
 */
export function validateNewTenant(input: CreateTenantInput): ValidatedTenant {
  const id = input.id === undefined ? undefined : validateTenantKey(input.id);
  const domains = (input.domains ?? []).map(validateDomain);
  const duplicate = domains.find((domain, index) => domains.indexOf(domain) !== index);
  if (duplicate) throw new InputError(`domain ${duplicate} is given twice`);
  return {
    id,
    name: input.name === undefined ? id : validateTenantName(input.name),
    domains,
    server: input.server,
    database: input.database === undefined ? undefined : validateDatabaseName(input.database, '--database'),
    status: input.status ?? 'active',
    migrate: Boolean(input.migrate),
    seed: Boolean(input.seed),
    classes: input.classes?.length ? input.classes : null,
    copy: input.copy,
  };
}

/** The `afty tenant create …` that finishes a half-created tenant: what it was first asked to do. */
export function finishCommand(tenant: TenantRecord, domains: string[], defaultDatabase: string): string {
  const plan = tenant.provisioning;
  const words = ['afty', 'tenant', 'create', tenant.id];
  if (tenant.name !== tenant.id) words.push('--name', shellWord(tenant.name));
  for (const domain of domains) words.push('--domain', domain);
  words.push('--server', tenant.server);
  if (tenant.database !== defaultDatabase) words.push('--database', tenant.database);
  if (plan && plan.status !== 'active') words.push('--status', plan.status);
  if (plan?.migrate) words.push('--migrate');
  if (plan?.seed) words.push('--seed');
  if (plan?.classes) words.push('--class', shellWord(plan.classes.join(',')));
  return words.join(' ');
}

/** The one-line remedy for a half-created tenant: finish it or undo it. */
export function provisioningRemedy(tenant: TenantRecord, domains: string[], defaultDatabase: string): string {
  const copy = tenant.provisioning?.copy;
  if (copy) {
    return `finish it by running the same afty tenant ${copy.command} (of ${copy.from}) again, or undo it with afty tenant delete ${tenant.id} --force`;
  }
  return `finish it with ${finishCommand(tenant, domains, defaultDatabase)} (or afty diagnose --fix), or undo it with afty tenant delete ${tenant.id} --force`;
}

/** Refuses work on a half-created tenant (exit 2), naming how to finish or undo it. */
export async function assertProvisioned(registry: Registry, tenant: TenantRecord): Promise<void> {
  if (tenant.status !== PROVISIONING) return;
  const domains = (await registry.listDomains([tenant.id])).map((domain) => domain.domain);
  throw new InputError(
    `tenant ${tenant.id} is half-created (status provisioning): a tenant create did not finish`,
    {
      hint: provisioningRemedy(tenant, domains, registry.databaseNameFor(tenant.id)),
    },
  );
}

/** A retry must ask for what the first attempt asked for; otherwise it would finish another tenant. */
function assertSameRequest(
  existing: TenantRecord,
  domains: string[],
  wanted: ValidatedTenant & { name: string },
  defaultDatabase: string,
): void {
  const plan = existing.provisioning;
  const same =
    existing.name === wanted.name &&
    JSON.stringify(domains) === JSON.stringify(wanted.domains) &&
    (wanted.server === undefined || wanted.server === existing.server) &&
    (wanted.database === undefined || wanted.database === existing.database) &&
    plan?.status === wanted.status &&
    plan.migrate === wanted.migrate &&
    plan.seed === wanted.seed &&
    JSON.stringify(plan.classes) === JSON.stringify(wanted.classes) &&
    JSON.stringify(plan.copy ?? null) === JSON.stringify(wanted.copy ?? null);
  if (!same) {
    throw new InputError(
      `tenant ${existing.id} is half-created by an earlier tenant create with other options`,
      { hint: provisioningRemedy(existing, domains, defaultDatabase) },
    );
  }
}

/**
 * Creates a tenant: registry row (status provisioning, with what was asked), database, user (with
 * tenancy.tenantUsers on MySQL), the extra steps (migrate, seed), then the final status. A step
 * that fails undoes the ones before it, the row last, so nothing is left behind. A process killed
 * half-way leaves the provisioning row, which the same call (a retry) or `diagnose --fix`
 * completes: each step is repeatable, and the database, which holds nothing of value yet, is
 * rebuilt from empty so migrations and seeders run exactly once on it.
 */
export async function createTenant(
  ctx: AftyContext,
  input: CreateTenantInput,
  options: CreateTenantOptions = {},
): Promise<TenantRecord> {
  const validated = validateNewTenant(input);
  const registry = await ctx.registry();
  // Tenants afty creates get the slug given, or the id the registry generates (stancl's UUIDs).
  const id = validated.id ?? registry.generateId();
  if (id === undefined) {
    throw new InputError('give the new tenant an id', {
      hint: 'afty tenant create ID (a registry that generates ids: registry.stancl.idGenerator)',
    });
  }
  const tenant = { ...validated, id, name: validated.name ?? id };
  const existing = await registry.findTenant(tenant.id);
  if (!existing && validated.id !== undefined) validateTenantId(validated.id);
  if (existing && existing.status !== PROVISIONING) {
    throw new InputError(`tenant ${tenant.id} already exists`, {
      hint: 'choose another id or see afty tenant show',
    });
  }
  if (existing) {
    assertSameRequest(
      existing,
      (await registry.listDomains([existing.id])).map((domain) => domain.domain),
      tenant,
      registry.databaseNameFor(existing.id),
    );
    return provision(ctx, existing, options, false);
  }

  const serverName = tenant.server ?? (await chooseServer(ctx, registry));
  const server = ctx.servers.get(serverName);
  const withUser = usesTenantUsers(ctx, server);
  if (withUser) assertSecret(ctx.config.secret);
  const database = tenant.database ?? registry.databaseNameFor(tenant.id);
  const owner = await registry.findTenantByDatabase(serverName, database);
  if (owner) {
    throw new InputError(
      `database ${database} on server "${serverName}" already belongs to tenant ${owner.id}`,
      {
        hint: 'choose another --database',
      },
    );
  }
  for (const domain of tenant.domains) {
    const owner = await registry.findDomain(domain);
    if (owner) throw new InputError(`domain ${domain} already belongs to tenant ${owner.tenantId}`);
  }
  if (await server.databaseExists(database)) {
    throw new InputError(
      `database ${database} already exists on server "${serverName}" but no tenant uses it`,
      {
        hint: `register it as it is with afty tenant adopt ${database} --server ${serverName}, or drop it (afty diagnose shows the command) and retry`,
      },
    );
  }
  const user = withUser ? tenantUserName(database) : null;
  if (user && (await server.userExists(user))) {
    throw new InputError(`database user ${user} already exists on server "${serverName}"`, {
      hint: 'drop the stale user (afty diagnose shows the command), then retry',
    });
  }
  const password = user ? generatePassword() : null;
  await registry.insertTenant({
    id: tenant.id,
    name: tenant.name,
    status: PROVISIONING,
    server: serverName,
    database,
    dbUser: user,
    dbPassword: password ? sealPassword(password, ctx.config.secret, registry.plainPasswords) : null,
    settings: {},
    domains: tenant.domains,
    provisioning: {
      status: tenant.status,
      migrate: tenant.migrate,
      seed: tenant.seed,
      classes: tenant.classes,
      ...(tenant.copy ? { copy: tenant.copy } : {}),
    },
  });
  return provision(ctx, (await registry.findTenant(tenant.id))!, options, true);
}

/** The steps after the registry row; `fresh`: the row was written by this call (else a retry). */
async function provision(
  ctx: AftyContext,
  tenant: TenantRecord,
  options: CreateTenantOptions,
  fresh: boolean,
): Promise<TenantRecord> {
  const registry = await ctx.registry();
  const server = ctx.servers.get(tenant.server);
  const plan = tenant.provisioning!;
  const steps: Step[] = [
    {
      name: 'registry',
      // Written before the saga so a kill at any later point leaves it; undone last.
      run: async () => {},
      undo: () => registry.deleteTenant(tenant.id),
    },
    {
      name: 'database',
      run: async () => {
        // A retry starts from an empty database: what a killed attempt wrote is only half of it.
        if (!fresh) await server.dropDatabase(tenant.database);
        await server.createDatabase(tenant.database);
      },
      undo: () => server.dropDatabase(tenant.database),
    },
  ];
  if (tenant.dbUser && tenant.dbPassword && server.supportsUsers) {
    const password = revealPassword(tenant, ctx.config.secret)!;
    const user = tenant.dbUser;
    steps.push({
      name: 'user',
      run: () => server.createUser(user, password, tenant.database),
      undo: () => server.dropUser(user),
    });
  }
  steps.push(...(options.extraSteps?.(tenant) ?? []), {
    name: 'activate',
    run: () => registry.updateTenant(tenant.id, { status: plan.status, provisioning: null }),
  });
  await runSteps(steps, options);
  return (await registry.findTenant(tenant.id))!;
}

export interface DeleteTenantResult {
  databaseDropped: boolean;
  userDropped: boolean;
  /** Restore safety copies (`<database>$s…`) dropped with the database. */
  safetyCopies: string[];
  /** Cache values removed from Redis (the database store goes with the database). */
  cacheKeys: number;
}

/**
 * Clears the tenant's cache, drops its safety copies, database and user, then the registry rows.
 * The cache goes first so that an unreachable Redis stops the delete before anything is dropped.
 * Each step is idempotent, so a delete that fails half-way can simply be run again.
 */
export async function deleteTenant(
  ctx: AftyContext,
  tenant: TenantRecord,
  options: { keepDatabase?: boolean } = {},
): Promise<DeleteTenantResult> {
  const registry = await ctx.registry();
  const server = ctx.servers.get(tenant.server);
  const [{ forgetTenantCache }, { SAFETY_MARK }] = await Promise.all([
    import('../cache/service.js'),
    import('../backup/naming.js'),
  ]);
  const domains = (await registry.listDomains([tenant.id])).map((domain) => domain.domain);
  const cacheKeys = await forgetTenantCache(ctx, tenant, domains);
  let databaseDropped = false;
  let userDropped = false;
  let safetyCopies: string[] = [];
  if (!options.keepDatabase) {
    // With --keep-database they stay with the database they are copies of.
    safetyCopies = await server.listDatabases(`${tenant.database}${SAFETY_MARK}`);
    for (const copy of safetyCopies) await server.dropDatabase(copy);
    await server.dropDatabase(tenant.database);
    databaseDropped = true;
  }
  if (tenant.dbUser && server.supportsUsers) {
    await server.dropUser(tenant.dbUser);
    userDropped = true;
  }
  await registry.deleteTenant(tenant.id);
  return { databaseDropped, userDropped, safetyCopies, cacheKeys };
}

/** Applies setting changes: `undefined` removes a key; dotted keys nest. */
export function applySettings(
  settings: TenantSettings,
  assignments: Array<{ key: string; value: unknown }>,
): TenantSettings {
  const next = structuredClone(settings);
  for (const { key, value } of assignments) {
    const parts = key.split('.');
    let node: Record<string, unknown> = next;
    for (const part of parts.slice(0, -1)) {
      const child = node[part];
      if (!child || typeof child !== 'object' || Array.isArray(child)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    const last = parts.at(-1)!;
    if (value === undefined) delete node[last];
    else node[last] = value;
  }
  return next;
}
