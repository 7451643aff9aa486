import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { AftyConfig } from '../config/index.js';
import { redactUrl } from '../config/urls.js';
import { ConfigError, ServiceError } from '../errors.js';
import { queryTimeout } from '../servers/watchdog.js';
import type { RedisClient } from './redis-store.js';

export const DEFAULT_REDIS_TIMEOUT_MS = 2000;

/**
 * Connects to Redis and fails fast: a dead or unreachable server gives a ServiceError (exit 3)
 * within the timeout, with the URL (password redacted) — never a hang or an unhandled error event.
 */
export async function connectRedis(
  url: string,
  timeoutMs = DEFAULT_REDIS_TIMEOUT_MS,
  options: RedisOptions = {},
): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    ...options,
  });
  await failFast(client, url, timeoutMs, () => client.ping());
  return client;
}

/**
 * Connects to a Redis Cluster through one seed node (`redis://[user:password@]host:port`); the
 * other nodes come from the cluster itself. Fails fast like connectRedis.
 */
export async function connectRedisCluster(
  url: string,
  timeoutMs = DEFAULT_REDIS_TIMEOUT_MS,
  options: ClusterOptions = {},
): Promise<Cluster> {
  const { Cluster } = await import('ioredis');
  const { redisOptions, ...clusterOptions } = options;
  const seed = new URL(url);
  if (!['', '/', '/0'].includes(seed.pathname)) {
    throw new ConfigError(`cache.url ${redactUrl(url)} names database ${seed.pathname.slice(1)}`, {
      hint: 'a Redis Cluster has only database 0: remove the /N from the URL',
    });
  }
  const cluster = new Cluster([{ host: seed.hostname || '127.0.0.1', port: Number(seed.port || 6379) }], {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: () => null,
    slotsRefreshTimeout: timeoutMs,
    redisOptions: {
      username: seed.username ? decodeURIComponent(seed.username) : undefined,
      password: seed.password ? decodeURIComponent(seed.password) : undefined,
      connectTimeout: timeoutMs,
      maxRetriesPerRequest: 1,
      tls: seed.protocol === 'rediss:' ? {} : undefined,
      ...redisOptions,
    },
    ...clusterOptions,
  });
  await failFast(cluster, url, timeoutMs);
  return cluster;
}

/** Races connect() against the timeout; errors become one ServiceError naming the redacted URL. */
async function failFast(
  client: RedisClient,
  url: string,
  timeoutMs: number,
  check?: () => Promise<unknown>,
): Promise<void> {
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().then(check),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        timer.unref();
      }),
    ]);
  } catch (error) {
    client.disconnect();
    const reason = (lastError ?? (error as Error)).message;
    throw new ServiceError(`cannot reach Redis at ${redactUrl(url)}: ${reason}`, {
      hint: 'check that Redis is running, and cache.url / AFTY_REDIS_URL (host, port, password, cache.cluster)',
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The configured cache server: a Cluster when cache.cluster is set, else one Redis, which must
 * not be a cluster node (SCAN there would only see that node's share of the keys).
 */
export async function connectCache(cache: AftyConfig['cache']): Promise<RedisClient> {
  if (!cache.url)
    throw new ConfigError('no Redis is configured', { hint: 'set cache.url or AFTY_REDIS_URL' });
  // A frozen Redis fails each command after timeouts.queryMs instead of hanging the run.
  const commandTimeout = queryTimeout();
  if (cache.cluster) {
    return connectRedisCluster(cache.url, cache.connectTimeoutMs, {
      redisOptions: { commandTimeout },
    });
  }
  const client = await connectRedis(cache.url, cache.connectTimeoutMs, { commandTimeout });
  if (/cluster_enabled:1/.test(await client.info('cluster'))) {
    client.disconnect();
    throw new ConfigError(`Redis at ${redactUrl(cache.url)} is a cluster node`, {
      hint: 'set "cache": {"cluster": true} in the config',
    });
  }
  return client;
}

/** Connects, reads the server version and disconnects. */
export async function pingRedis(
  url: string,
  timeoutMs = DEFAULT_REDIS_TIMEOUT_MS,
): Promise<{ version: string; latencyMs: number }> {
  const started = performance.now();
  const client = await connectRedis(url, timeoutMs);
  try {
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    return { version, latencyMs: performance.now() - started };
  } finally {
    client.disconnect();
  }
}
