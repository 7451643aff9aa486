import { randomBytes } from 'node:crypto';

export const MARIADB_URL = process.env.AFTY_TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306';
export const REDIS_URL = process.env.AFTY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
export const REDIS_CLUSTER_NODES = (
  process.env.AFTY_TEST_REDIS_CLUSTER ?? '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003'
)
  .split(',')
  .map((node) => {
    const [host, port] = node.split(':');
    return { host: host!, port: Number(port) };
  });

const SERVICES_HINT = 'start it with: bash scripts/services.sh (add --cluster for the Redis Cluster)';

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
  const db = knex({
    client: 'mysql2',
    connection: { host: '127.0.0.1', port: 3306, user: 'root', connectTimeout: 3000 },
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

/** Root connection to the test MariaDB for assertions on real server state. */
export async function mariadbAdmin() {
  const { default: knex } = await import('knex');
  return knex({
    client: 'mysql2',
    connection: { host: '127.0.0.1', port: 3306, user: 'root', multipleStatements: true },
    pool: { min: 0, max: 2 },
  });
}
