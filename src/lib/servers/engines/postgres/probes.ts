import type { Knex } from 'knex';
import { likePrefix } from '../sql.js';
import type { EngineProbes } from '../../../checks/engine-probes.js';
import type { NetworkLocation } from '../../engine.js';
import { quoteIdentifier } from './url.js';

async function rows<T>(db: Knex, sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<T[]> {
  return ((await db.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] }).rows;
}

const codeOf = (error: unknown) => (error as { code?: unknown } | undefined)?.code;

/** Role attributes no tenant role may have, as pg_roles names them. */
const ATTRIBUTES = {
  rolsuper: 'SUPERUSER',
  rolcreaterole: 'CREATEROLE',
  rolcreatedb: 'CREATEDB',
  rolbypassrls: 'BYPASSRLS',
  rolreplication: 'REPLICATION',
} as const;

type RoleRow = { [K in keyof typeof ATTRIBUTES]: boolean } & { rolname: string };

/** The schema a location's work runs in: its tenant schema, else public. */
const schemaOf = (location: NetworkLocation) => location.schema ?? 'public';

/** The privileges that are true in a row of has_*_privilege results, upper-cased. */
function held(row: Record<string, boolean>): string[] {
  return Object.entries(row)
    .filter(([, value]) => value)
    .map(([name]) => name.toUpperCase());
}

/** Privileges by object ("database x", "schema s", "s.t"), as has_*_privilege reads them. */
type Privileges = Map<string, string[]>;

function describePrivileges(privileges: Privileges): string[] {
  return [...privileges].map(([object, names]) => `${names.join(', ')} on ${object}`);
}

/** What `role` holds beyond what PUBLIC holds (PUBLIC's own grants are reported on their own). */
function beyond(role: Privileges, publicHolds: Privileges): Privileges {
  const extra: Privileges = new Map();
  for (const [object, names] of role) {
    const own = names.filter((name) => !(publicHolds.get(object) ?? []).includes(name));
    if (own.length) extra.set(object, own);
  }
  return extra;
}

/**
 * Privileges on `schema` (in the connected database) and its tables, held by `role` (or PUBLIC
 * when role is 'public'), directly, through PUBLIC or through roles it belongs to.
 */
async function schemaPrivileges(db: Knex, role: string, schema: string): Promise<Privileges> {
  const found: Privileges = new Map();
  const [own] = await rows<Record<string, boolean>>(
    db,
    "SELECT has_schema_privilege(?, n.oid, 'USAGE') AS usage, has_schema_privilege(?, n.oid, 'CREATE') AS create FROM pg_namespace n WHERE n.nspname = ?",
    [role, role, schema],
  );
  if (own && held(own).length) found.set(`schema ${schema}`, held(own));
  const tables = await rows<{ name: string } & Record<string, boolean>>(
    db,
    `SELECT c.relname AS name,
            has_table_privilege(?, c.oid, 'SELECT') AS select,
            has_table_privilege(?, c.oid, 'INSERT') AS insert,
            has_table_privilege(?, c.oid, 'UPDATE') AS update,
            has_table_privilege(?, c.oid, 'DELETE') AS delete
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ? AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname`,
    [role, role, role, role, schema],
  );
  for (const { name, ...privileges } of tables) {
    if (held(privileges).length) found.set(`${schema}.${name}`, held(privileges));
  }
  return found;
}

/** A role's (or PUBLIC's) privileges on a database: CONNECT lets it in; CREATE and TEMP let it write. */
async function databasePrivileges(db: Knex, role: string, database: string): Promise<Privileges> {
  const [row] = await rows<Record<string, boolean>>(
    db,
    "SELECT has_database_privilege(?, ?, 'CONNECT') AS connect, has_database_privilege(?, ?, 'CREATE') AS create, has_database_privilege(?, ?, 'TEMP') AS temp",
    [role, database, role, database, role, database],
  );
  return row && held(row).length ? new Map([[`database ${database}`, held(row)]]) : new Map();
}

/**
 * PostgreSQL: roles in pg_roles (no host part), privileges read with has_*_privilege (which
 * count PUBLIC's and inherited grants), sessions in pg_stat_activity. With schema isolation a
 * tenant's place is a schema in the shared database the server URL names.
 */
export const postgresProbes: EngineProbes = {
  // 42501 insufficient_privilege: "permission denied for database/schema/table".
  isDenied: (error) => codeOf(error) === '42501',
  // 42P01 undefined_table.
  isMissingTable: (error) => codeOf(error) === '42P01',
  access: {
    // The target's own database: with a database per tenant, being let in is already a breach.
    login: (asTenant) => ({ ...asTenant, schema: undefined }),
    // 42501 at connect: "permission denied for database", the role lacks CONNECT.
    loginRefused: (error) => codeOf(error) === '42501',
    loginReaches: (asTenant) => asTenant.schema === undefined,
    attempts: (target, readable, created) => {
      const schema = schemaOf(target);
      const place = target.schema ?? target.connection.database!;
      return [
        { what: `reading ${place}`, sql: 'SELECT id FROM ??.??', bindings: [schema, readable] },
        { what: `writing ${place}`, sql: 'INSERT INTO ??.?? (id) VALUES (2)', bindings: [schema, readable] },
        {
          what: `creating a table in ${place}`,
          sql: 'CREATE TABLE ??.?? (id INT)',
          bindings: [schema, created],
        },
      ];
    },
    async granted(admin, user, target) {
      const database = target.connection.database!;
      const schema = schemaOf(target);
      const publicHolds = new Map([
        ...(await databasePrivileges(admin, 'public', database)),
        ...(await schemaPrivileges(admin, 'public', schema)),
      ]);
      const userHolds = new Map([
        // Per schema, every tenant role may connect to the shared database: that is no breach.
        ...(target.schema ? [] : await databasePrivileges(admin, user, database)),
        ...(await schemaPrivileges(admin, user, schema)),
      ]);
      // What PUBLIC holds every role holds, this one too; the public schema's USAGE is PostgreSQL's
      // default and harmless while the database refuses CONNECT (which is reported itself).
      const throughPublic = new Map(publicHolds);
      if (!target.schema) throughPublic.delete('schema public');
      return [
        ...describePrivileges(beyond(userHolds, publicHolds)),
        ...describePrivileges(throughPublic).map((line) => `${line} through PUBLIC`),
      ];
    },
  },

  describeUser: (place) => place.user,
  revokeOthers: (user) =>
    `REVOKE the listed privileges FROM ${quoteIdentifier(user)} (a PUBLIC one: REVOKE ALL ON DATABASE <other> FROM PUBLIC; afty test security names each statement)`,

  async tenantPrivileges(admin, place) {
    const [role] = await rows<RoleRow>(
      admin,
      `SELECT rolname, ${Object.keys(ATTRIBUTES).join(', ')} FROM pg_roles WHERE rolname = ?`,
      [place.user],
    );
    if (!role) return undefined;
    const name = quoteIdentifier(place.user);
    const violations: string[] = [];
    const remedies: string[] = [];
    const attributes = (Object.keys(ATTRIBUTES) as Array<keyof typeof ATTRIBUTES>).filter((key) => role[key]);
    if (attributes.length) {
      violations.push(`role attributes ${attributes.map((key) => ATTRIBUTES[key]).join(', ')}`);
      remedies.push(`ALTER ROLE ${name} ${attributes.map((key) => `NO${ATTRIBUTES[key]}`).join(' ')}`);
    }
    const memberOf = await rows<{ name: string }>(
      admin,
      'SELECT r.rolname AS name FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = ?) ORDER BY 1',
      [place.user],
    );
    for (const { name: granted } of memberOf) {
      violations.push(`membership in role ${granted}`);
      remedies.push(`REVOKE ${quoteIdentifier(granted)} FROM ${name}`);
    }
    // Databases it owns or holds a grant on, other than its own (or, per schema, the shared one).
    const databases = await rows<{ name: string }>(
      admin,
      `SELECT d.datname AS name FROM pg_database d, pg_roles r
       WHERE r.rolname = ? AND d.datname <> ? AND (d.datdba = r.oid OR EXISTS (SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = r.oid))
       ORDER BY 1`,
      [place.user, place.database],
    );
    for (const { name: database } of databases) {
      violations.push(`privileges on database ${database}`);
      remedies.push(`REVOKE ALL ON DATABASE ${quoteIdentifier(database)} FROM ${name}`);
    }
    if (place.schema) {
      const schemas = await rows<{ name: string }>(
        admin,
        `SELECT n.nspname AS name FROM pg_namespace n, pg_roles r
         WHERE r.rolname = ? AND n.nspname <> ? AND (n.nspowner = r.oid OR EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a WHERE a.grantee = r.oid))
         ORDER BY 1`,
        [place.user, place.schema],
      );
      for (const { name: schema } of schemas) {
        violations.push(`privileges on schema ${schema}`);
        remedies.push(
          `REVOKE ALL ON SCHEMA ${quoteIdentifier(schema)} FROM ${name}; REVOKE ALL ON ALL TABLES IN SCHEMA ${quoteIdentifier(schema)} FROM ${name}`,
        );
      }
    }
    // PUBLIC's privileges on the tenant's place reach every role on the server.
    const publicOnDatabase = describePrivileges(await databasePrivileges(admin, 'public', place.database));
    if (publicOnDatabase.length) {
      violations.push(`its database open to PUBLIC (${publicOnDatabase.join('; ')})`);
      remedies.push(`REVOKE ALL ON DATABASE ${quoteIdentifier(place.database)} FROM PUBLIC`);
    }
    if (place.schema) {
      const publicOnSchema = describePrivileges(await schemaPrivileges(admin, 'public', place.schema));
      if (publicOnSchema.length) {
        violations.push(`its schema open to PUBLIC (${publicOnSchema.join('; ')})`);
        const schema = quoteIdentifier(place.schema);
        remedies.push(
          `REVOKE ALL ON SCHEMA ${schema} FROM PUBLIC; REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM PUBLIC`,
        );
      }
    }
    return { violations, remedy: remedies.join('; ') };
  },

  // 28P01 invalid_password; pg itself refuses to answer a SCRAM challenge with an empty password.
  passwordRequired: (error) =>
    codeOf(error) === '28P01' ||
    /client password must be a non-empty string/.test(String((error as Error)?.message)),
  passwordless: (place) => ({
    // pg_hba.conf decides whether a password is asked for at all: a server setting, not the role's.
    status: 'warn',
    message: `${place.user} logs in without a password: pg_hba.conf does not ask for one (trust) on this connection, so anyone who reaches the server can log in as any tenant`,
    remedy: 'use scram-sha-256 (not trust) for the tenant roles in pg_hba.conf, then SELECT pg_reload_conf()',
  }),

  async adminPrivileges(admin, needs) {
    const [role] = await rows<RoleRow>(
      admin,
      `SELECT rolname, ${Object.keys(ATTRIBUTES).join(', ')} FROM pg_roles WHERE rolname = current_user`,
    );
    const attributes = (Object.keys(ATTRIBUTES) as Array<keyof typeof ATTRIBUTES>)
      .filter((key) => role![key])
      .map((key) => ATTRIBUTES[key]);
    const problems: string[] = [];
    if (!role!.rolsuper) {
      if (needs.createDatabases && !role!.rolcreatedb)
        problems.push(
          `${role!.rolname} lacks CREATEDB: tenant create cannot create databases (ALTER ROLE ${quoteIdentifier(role!.rolname)} CREATEDB)`,
        );
      if (needs.createUsers && !role!.rolcreaterole)
        problems.push(
          `${role!.rolname} lacks CREATEROLE: tenant create cannot create tenant roles (ALTER ROLE ${quoteIdentifier(role!.rolname)} CREATEROLE)`,
        );
    }
    return {
      summary: `${role!.rolname}: ${attributes.length ? attributes.join(', ') : 'no role attributes'}${role!.rolsuper ? ' (more than afty needs: CREATEDB and CREATEROLE suffice)' : ''}`,
      problems,
      details: { user: role!.rolname, attributes },
    };
  },

  async serverSettings(admin) {
    const settings = new Map(
      (
        await rows<{ name: string; setting: string }>(
          admin,
          "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', 'superuser_reserved_connections', 'idle_in_transaction_session_timeout')",
        )
      ).map((row) => [row.name, Number(row.setting)]),
    );
    const [{ connected }] = (await rows<{ connected: string }>(
      admin,
      "SELECT COUNT(*) AS connected FROM pg_stat_activity WHERE backend_type = 'client backend'",
    )) as [{ connected: string }];
    const maxConnections = settings.get('max_connections')!;
    const reserved = settings.get('superuser_reserved_connections')!;
    const idleMs = settings.get('idle_in_transaction_session_timeout')!;
    const problems =
      idleMs === 0
        ? [
            "idle_in_transaction_session_timeout is 0 (off): a client that dies inside a transaction keeps its locks (a migration's too) until someone kills its session (ALTER SYSTEM SET idle_in_transaction_session_timeout = '10min'; SELECT pg_reload_conf())",
          ]
        : [];
    return {
      summary: `max_connections ${maxConnections} (${reserved} reserved for superusers, ${connected} in use), idle_in_transaction_session_timeout ${idleMs === 0 ? 'off' : `${idleMs / 1000}s`}`,
      details: {
        maxConnections,
        superuserReserved: reserved,
        connected: Number(connected),
        idleInTransactionTimeoutMs: idleMs,
      },
      // Tenant roles are no superusers: the reserved slots are not theirs.
      usable: maxConnections - reserved,
      connected: Number(connected),
      problems,
    };
  },

  anonymousUsers: null,

  async otherSessions(admin, place) {
    // Per schema, sessions are told apart by the tenant's role (all share the database).
    const [row] = await rows<{ sessions: string }>(
      admin,
      place.schema
        ? 'SELECT COUNT(*) AS sessions FROM pg_stat_activity WHERE datname = ? AND usename = ? AND pid <> pg_backend_pid()'
        : 'SELECT COUNT(*) AS sessions FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()',
      place.schema ? [place.database, place.user ?? ''] : [place.database],
    );
    return Number(row!.sessions);
  },

  async handBack(admin, user, schema) {
    // Dropping a role hands what it owned to the admin; a recreated role must own it again or its
    // migrations cannot alter its tables. Sequences of serial/identity columns follow their table.
    const statements = await rows<{ statement: string }>(
      admin,
      `SELECT format('ALTER %s %I.%I OWNER TO %I',
                     CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                                    WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                     n.nspname, c.relname, ?::text) AS statement
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ? AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relispartition = false
         AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = ?)
         AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                              AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
       ORDER BY c.relkind, c.relname`,
      [user, schema ?? 'public', user],
    );
    for (const { statement } of statements) await admin.raw(statement);
    return statements.length;
  },

  async prefixedUsers(admin, prefix) {
    const found = await rows<{ name: string }>(
      admin,
      "SELECT rolname AS name FROM pg_roles WHERE rolname LIKE ? ESCAPE '\\' ORDER BY rolname",
      [likePrefix(prefix)],
    );
    return found.map((row) => row.name);
  },

  // What it owns goes to the admin (never dropped with it), then its grants, then the role.
  dropUser: (user) => {
    const role = quoteIdentifier(user);
    return `REASSIGN OWNED BY ${role} TO CURRENT_USER; DROP OWNED BY ${role}; DROP ROLE ${role}`;
  },
  dropDatabase: (name, schema) =>
    schema
      ? `DROP SCHEMA ${quoteIdentifier(name)} CASCADE`
      : `DROP DATABASE ${quoteIdentifier(name)} WITH (FORCE)`,
};
