import type { AftyContext } from '../context.js';
import { InputError, NotFoundError } from '../errors.js';
import type { TenantRecord } from '../registry/index.js';
import { describeValue, validateDatabaseName, validateTenantKey } from '../validation/index.js';
import { assertSecret, generatePassword, sealPassword } from './credentials.js';
import { usesTenantUsers } from './index.js';
import { tenantUserName } from './naming.js';
import { runSteps, type Step, type StepHooks } from './saga.js';

export interface AdoptInput {
  database: string;
  id?: string;
  server?: string;
  /** Give the tenant a database user of its own (random password, stored like afty's own). */
  createUser?: boolean;
}

/**
 * The id a database was named after: the one the registry would give this very name to (so
 * `tenant_acme_corp` adopts as acme-corp and stancl's `tenant<uuid>` as the uuid), else none.
 */
function idFromDatabase(
  database: string,
  prefix: string,
  nameFor: (id: string) => string,
): string | undefined {
  if (!database.startsWith(prefix)) return undefined;
  const rest = database.slice(prefix.length);
  // The slug reading first: afty names tenant acme-corp's database tenant_acme_corp.
  for (const candidate of [rest.replace(/_/g, '-'), rest, rest.toLowerCase().replace(/_/g, '-')]) {
    try {
      if (nameFor(validateTenantKey(candidate)) === database) return candidate;
    } catch {
      // Not an id this registry could have named the database after; try the next reading.
    }
  }
  return undefined;
}

/** The server holding the database: the one given, else the only configured one that has it. */
async function serverOf(ctx: AftyContext, database: string, wanted: string | undefined): Promise<string> {
  const names = wanted === undefined ? ctx.servers.names : [ctx.servers.get(wanted).name];
  const holding: string[] = [];
  for (const name of names) if (await ctx.servers.get(name).databaseExists(database)) holding.push(name);
  if (holding.length === 0) {
    throw new NotFoundError(
      wanted === undefined
        ? `database ${database} does not exist on any configured server (${names.join(', ')})`
        : `database ${database} does not exist on server "${wanted}"`,
      { hint: 'afty diagnose lists the databases no tenant uses; afty tenant create makes a new one' },
    );
  }
  if (holding.length > 1) {
    throw new InputError(`database ${database} exists on several servers: ${holding.join(', ')}`, {
      hint: 'say which one with --server',
    });
  }
  return holding[0]!;
}

/**
 * Registers a database that already exists as a tenant, leaving its data as it is: a registry row
 * (status active) and, with createUser, a database user of its own. Refuses a database a tenant
 * already uses or that does not exist; the user is undone if the row cannot be written.
 */
export async function adoptTenant(
  ctx: AftyContext,
  input: AdoptInput,
  hooks: StepHooks = {},
): Promise<TenantRecord> {
  const database = validateDatabaseName(input.database, 'database name');
  const explicitId = input.id === undefined ? undefined : validateTenantKey(input.id);
  const registry = await ctx.registry();
  const serverName = await serverOf(ctx, database, input.server);
  const owner = await registry.findTenantByDatabase(serverName, database);
  if (owner) {
    throw new InputError(`database ${database} on server "${serverName}" is already tenant ${owner.id}`, {
      hint: `see afty tenant show ${owner.id}`,
    });
  }
  const id =
    explicitId ??
    idFromDatabase(database, registry.databasePrefix, (candidate) => registry.databaseNameFor(candidate));
  if (!id) {
    throw new InputError(`cannot tell a tenant id from the database name ${describeValue(database)}`, {
      hint: 'give one with --id',
    });
  }
  if (await registry.findTenant(id)) {
    throw new InputError(`tenant ${id} already exists`, { hint: 'choose another --id' });
  }
  const server = ctx.servers.get(serverName);
  let user: string | null = null;
  let password: string | null = null;
  if (input.createUser) {
    if (!server.supportsUsers) {
      throw new InputError(`server "${serverName}" has no database users (${server.description})`, {
        hint: 'leave out --create-user',
      });
    }
    if (!usesTenantUsers(ctx, server)) {
      throw new InputError('--create-user needs tenancy.tenantUsers on', { hint: 'leave out --create-user' });
    }
    if (!registry.plainPasswords) assertSecret(ctx.config.secret);
    user = tenantUserName(database);
    if (await server.userExists(user)) {
      throw new InputError(`database user ${user} already exists on server "${serverName}"`, {
        hint: 'drop the stale user (afty diagnose shows the command), or adopt without --create-user',
      });
    }
    password = generatePassword();
  }
  const steps: Step[] = [];
  if (user && password) {
    const [name, secret] = [user, password];
    steps.push({
      name: 'user',
      run: () => server.createUser(name, secret, database),
      undo: () => server.dropUser(name),
    });
  }
  steps.push({
    name: 'registry',
    run: () =>
      registry.insertTenant({
        id,
        name: id,
        status: 'active',
        server: serverName,
        database,
        dbUser: user,
        dbPassword: password ? sealPassword(password, ctx.config.secret, registry.plainPasswords) : null,
        settings: {},
        domains: [],
      }),
  });
  await runSteps(steps, hooks);
  return (await registry.findTenant(id))!;
}
