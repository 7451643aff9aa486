import type { Knex } from 'knex';
import type { EngineProbes } from '../../../checks/engine-probes.js';
import { networkWithoutDatabase } from '../network-url.js';

const DENIED = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_COLUMNACCESS_DENIED_ERROR',
  'ER_SPECIFIC_ACCESS_DENIED_ERROR',
]);

/** Below this, a connection idle between two migration steps can be closed by the server. */
const MIN_IDLE_S = 60;

const codeOf = (error: unknown) => (error as { code?: unknown } | undefined)?.code;

interface Grant {
  privileges: string;
  on: string;
  grantOption: boolean;
}

/** Parses SHOW GRANTS lines; password hashes are never kept. */
export function parseGrants(lines: string[]): Grant[] {
  return lines.flatMap((line) => {
    const match = /^GRANT (.+?) ON (\S+) TO /.exec(line);
    if (!match) return [];
    return [
      {
        privileges: match[1]!,
        on: match[2]!.replace(/[`\\]/g, ''),
        grantOption: /WITH GRANT OPTION/i.test(line),
      },
    ];
  });
}

/** Grants a tenant user must not have: anything global, GRANT OPTION, or any other database. */
export function grantViolations(grants: Grant[], database: string): string[] {
  const violations: string[] = [];
  for (const grant of grants) {
    if (grant.grantOption) violations.push(`GRANT OPTION on ${grant.on}`);
    if (grant.on === '*.*' && grant.privileges !== 'USAGE')
      violations.push(`global privileges (${grant.privileges})`);
    else if (grant.on !== '*.*' && grant.on.split('.')[0] !== database)
      violations.push(`${grant.privileges} on ${grant.on}`);
  }
  return violations;
}

/** SHOW GRANTS FOR a user as lines; undefined when the user does not exist. */
async function grantLines(db: Knex, user: string, host: string): Promise<string[] | undefined> {
  try {
    const [rows] = (await db.raw('SHOW GRANTS FOR ?@?', [user, host])) as [Array<Record<string, string>>];
    return rows.map((row) => Object.values(row)[0]!);
  } catch (error) {
    if (codeOf(error) === 'ER_NONEXISTING_GRANT') return undefined;
    throw error;
  }
}

const account = (user: string, host: string) => `'${user.replace(/'/g, "''")}'@'${host.replace(/'/g, "''")}'`;

/** MySQL/MariaDB: users are user@host, grants are read with SHOW GRANTS, sessions in PROCESSLIST. */
export const mysqlProbes: EngineProbes = {
  isDenied: (error) => DENIED.has(String(codeOf(error))),
  isMissingTable: (error) => codeOf(error) === 'ER_NO_SUCH_TABLE',
  access: {
    // No default database: the login must not depend on the tenant's own database existing.
    login: (asTenant) => networkWithoutDatabase(asTenant),
    // A refused login without a database is the tenant's own password failing: never a pass.
    loginRefused: () => false,
    loginReaches: () => false,
    attempts: (target, readable, created) => {
      const database = target.connection.database!;
      return [
        { what: `reading ${database}`, sql: 'SELECT id FROM ??.??', bindings: [database, readable] },
        {
          what: `writing ${database}`,
          sql: 'INSERT INTO ??.?? (id) VALUES (2)',
          bindings: [database, readable],
        },
        {
          what: `creating a table in ${database}`,
          sql: 'CREATE TABLE ??.?? (id INT)',
          bindings: [database, created],
        },
      ];
    },
    // The statements above cover every table: a database-level grant is what they would meet.
    granted: async () => [],
  },

  describeUser: (place) => `${place.user}@${place.userHost}`,
  revokeOthers: (user, userHost) =>
    `REVOKE ALL PRIVILEGES ON <other tenant database>.* FROM ${account(user, userHost)}`,

  async tenantPrivileges(admin, place) {
    const lines = await grantLines(admin, place.user, place.userHost);
    if (!lines) return undefined;
    return {
      violations: grantViolations(parseGrants(lines), place.database),
      remedy: `REVOKE those privileges FROM ${account(place.user, place.userHost)} (keep only ALL PRIVILEGES ON \`${place.database}\`.*)`,
    };
  },

  passwordRequired: (error) => codeOf(error) === 'ER_ACCESS_DENIED_ERROR',
  passwordless: (place, fix) => ({
    status: 'fail',
    message: `${place.user} logs in with an empty password`,
    remedy: `DROP USER ${account(place.user, place.userHost)}, then ${fix} recreates it with a new random password`,
  }),

  async adminPrivileges(admin) {
    const [rows] = (await admin.raw('SHOW GRANTS')) as [Array<Record<string, string>>];
    const lines = rows.map((row) => Object.values(row)[0]!);
    const global = parseGrants(lines).filter((grant) => grant.on === '*.*');
    const [user] = (await admin.raw('SELECT CURRENT_USER() AS user')) as [Array<{ user: string }>];
    const privileges = global.map((grant) => grant.privileges).join(', ') || 'no global privileges';
    return {
      summary: `${user[0]!.user}: ${privileges}${global.some((grant) => grant.grantOption) ? ' WITH GRANT OPTION' : ''}`,
      problems: [],
      details: { user: user[0]!.user, global: global.map((grant) => grant.privileges) },
    };
  },

  async serverSettings(admin) {
    const [variables] = (await admin.raw(
      "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('max_connections', 'wait_timeout', 'version')",
    )) as [Array<{ Variable_name: string; Value: string }>];
    const [status] = (await admin.raw("SHOW GLOBAL STATUS WHERE Variable_name = 'Threads_connected'")) as [
      Array<{ Variable_name: string; Value: string }>,
    ];
    const value = new Map(
      [...variables, ...status].map((row) => [row.Variable_name.toLowerCase(), row.Value]),
    );
    const maxConnections = Number(value.get('max_connections'));
    const connected = Number(value.get('threads_connected'));
    const waitTimeout = Number(value.get('wait_timeout'));
    const problems =
      waitTimeout < MIN_IDLE_S
        ? [
            `wait_timeout below ${MIN_IDLE_S}s closes connections idle between long steps (SET GLOBAL wait_timeout = 28800)`,
          ]
        : [];
    return {
      summary: `max_connections ${maxConnections} (${connected} in use), wait_timeout ${waitTimeout}s`,
      details: { maxConnections, threadsConnected: connected, waitTimeoutS: waitTimeout },
      usable: maxConnections,
      connected,
      problems,
    };
  },

  async anonymousUsers(admin) {
    const [rows] = (await admin.raw("SELECT Host AS host FROM mysql.user WHERE User = '' ORDER BY Host")) as [
      Array<{ host: string }>,
    ];
    return rows.map((row) => account('', row.host));
  },

  async otherSessions(admin, place) {
    const [rows] = (await admin.raw(
      'SELECT COUNT(*) AS sessions FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
      [place.database],
    )) as [Array<{ sessions: number | string }>];
    return Number(rows[0]!.sessions);
  },

  // The user's grant on its database is given with the user: nothing is owned apart from it.
  handBack: async () => 0,

  async prefixedUsers(admin, prefix, userHost) {
    const [rows] = (await admin.raw(
      "SELECT User AS user FROM mysql.user WHERE User LIKE ? ESCAPE '!' AND Host = ? ORDER BY User",
      [`${prefix.replace(/[!_%]/g, (char) => `!${char}`)}%`, userHost],
    )) as [Array<{ user: string }>];
    return rows.map((row) => row.user);
  },

  dropUser: (user, userHost) => `DROP USER ${account(user, userHost)}`,
  dropDatabase: (name) => `DROP DATABASE \`${name.replace(/`/g, '``')}\``,
};
