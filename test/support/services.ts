import { randomBytes } from 'node:crypto';

export const MARIADB_URL = process.env.AFTY_TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306';
export const POSTGRES_URL = process.env.AFTY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
export const REDIS_URL = process.env.AFTY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
/**
 * The Redis Cluster nodes the cluster tests use: AFTY_TEST_REDIS_CLUSTER ("host:port,…"), which
 * the test run's global fixture (test/support/global-fixture.ts) sets to a throwaway cluster it
 * starts when the variable is not already set. Read when called: in a serial run the test files
 * are loaded before the fixture runs.
 */
export function redisClusterNodes(): Array<{ host: string; port: number }> {
  const nodes = process.env.AFTY_TEST_REDIS_CLUSTER;
  if (!nodes) {
    throw new Error(
      'AFTY_TEST_REDIS_CLUSTER is not set: run the tests through mocha with .mocharc.json (npm test), whose global fixture starts a Redis Cluster, or set it to host:port,… of one',
    );
  }
  return nodes.split(',').map((node) => {
    const [host, port] = node.trim().split(':');
    return { host: host!, port: Number(port) };
  });
}

/** The seed node the cluster tests connect through. */
export function redisClusterSeed(): string {
  const [first] = redisClusterNodes();
  return `redis://${first!.host}:${first!.port}`;
}

export const SERVICES_HINT = 'start it with: bash scripts/services.sh';

/** A short unique token per test run, for database names and Redis prefixes. */
export function uniqueToken(length = 6): string {
  return randomBytes(8)
    .toString('hex')
    .replace(/[0-9]/g, (digit) => 'abcdefghij'[Number(digit)]!)
    .slice(0, length);
}

/** Fails loudly (never skips) when MariaDB is not reachable. */
export async function requireMariaDb(): Promise<void> {
  const { default: knex } = await import('knex');
  const url = new URL(MARIADB_URL);
  const db = knex({
    client: 'mysql2',
    connection: {
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      connectTimeout: 3000,
    },
  });
  try {
    await db.raw('SELECT 1');
  } catch (error) {
    throw new Error(
      `MariaDB at ${MARIADB_URL} is not reachable (${(error as Error).message}); ${SERVICES_HINT}`,
      { cause: error },
    );
  } finally {
    await db.destroy();
  }
}

/** Fails loudly (never skips) when PostgreSQL is not reachable. */
export async function requirePostgres(): Promise<void> {
  const db = await postgresAdmin();
  try {
    await db.raw('SELECT 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL at ${POSTGRES_URL} is not reachable (${(error as Error).message}); ${SERVICES_HINT}`,
      { cause: error },
    );
  } finally {
    await db.destroy();
  }
}

/** Superuser connection to the test PostgreSQL (database `database`, default postgres) for assertions. */
export async function postgresAdmin(database = 'postgres') {
  const { default: knex } = await import('knex');
  const url = new URL(POSTGRES_URL);
  return knex({
    client: 'pg',
    connection: {
      host: url.hostname,
      port: Number(url.port || 5432),
      user: decodeURIComponent(url.username) || 'postgres',
      password: decodeURIComponent(url.password) || undefined,
      database,
      connectionTimeoutMillis: 3000,
    },
    pool: { min: 0, max: 2 },
  });
}

/** Fails loudly (never skips) when Redis is not reachable. */
export async function requireRedis(url = REDIS_URL): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`Redis at ${url} is not reachable (${(error as Error).message}); ${SERVICES_HINT}`, {
      cause: error,
    });
  } finally {
    client.disconnect();
  }
}

/**
 * Fails loudly (never skips) unless every node of the test Redis Cluster answers and reports
 * cluster_state:ok, waiting up to `timeoutMs` for it: the throwaway cluster the global fixture
 * starts is still forming (seconds of gossip) when the first test files run.
 */
export async function requireRedisCluster(timeoutMs = 30_000): Promise<void> {
  const { Redis } = await import('ioredis');
  const nodes = redisClusterNodes();
  const clients = nodes.map(({ host, port }) => {
    const client = new Redis({
      host,
      port,
      lazyConnect: true,
      connectTimeout: 2000,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    return client;
  });
  const deadline = Date.now() + timeoutMs;
  let state: string;
  try {
    for (;;) {
      try {
        const infos = await Promise.all(
          clients.map(async (client) => {
            if (client.status !== 'ready') await client.connect();
            return String(await client.call('CLUSTER', 'INFO'));
          }),
        );
        const notOk = infos.find((info) => !info.includes('cluster_state:ok'));
        if (!notOk) return;
        state = /cluster_state:(\w+)/.exec(notOk)?.[0] ?? 'no cluster_state';
      } catch (error) {
        // A node that answers with an error (cluster support disabled…) will not become ready.
        if ((error as Error).name === 'ReplyError') {
          throw new Error(
            `${nodes.map(({ host, port }) => `${host}:${port}`).join(',')} is not a Redis Cluster (${(error as Error).message}): set AFTY_TEST_REDIS_CLUSTER to the nodes of one, or unset it to let the tests start their own`,
            { cause: error },
          );
        }
        state = `not reachable (${(error as Error).message})`;
        for (const client of clients) if (client.status !== 'ready') client.disconnect();
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the Redis Cluster at ${process.env.AFTY_TEST_REDIS_CLUSTER} is not ready after ${timeoutMs / 1000} s (${state}): the run's output says why when the cluster it started did not form; for one of your own, check it or unset AFTY_TEST_REDIS_CLUSTER`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    for (const client of clients) client.disconnect();
  }
}

/** Root connection to the test MariaDB for assertions on real server state. */
export async function mariadbAdmin() {
  const { default: knex } = await import('knex');
  return knex({
    client: 'mysql2',
    connection: { host: '127.0.0.1', port: 3306, user: 'root', multipleStatements: true },
    pool: { min: 0, max: 2 },
  });
}
