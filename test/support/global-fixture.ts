import { onExit } from 'signal-exit';
import { startRedisCluster, type ThrowawayCluster } from './redis-cluster.js';
import { redisClusterSeed, requireMariaDb, requireRedis } from './services.js';

/**
 * Mocha global fixture (listed in .mocharc.json `require`; in parallel mode it runs once, in the
 * main process, before the workers start, so they inherit the environment it sets):
 * - fails the run at once, with one message naming scripts/services.sh, when MariaDB or Redis is
 *   not reachable, instead of every test failing on it;
 * - starts a throwaway Redis Cluster on free ports unless AFTY_TEST_REDIS_CLUSTER names one, and
 *   removes it at the end, on Ctrl-C and on any other exit. It does not wait the seconds the
 *   cluster takes to form: the cluster tests do (requireRedisCluster), the others start at once.
 */
let cluster: ThrowawayCluster | undefined;
let removeExitHook: (() => void) | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  try {
    await startServices();
  } catch (error) {
    // Mocha prints the stack: the message alone is what to act on.
    (error as Error).stack = (error as Error).message;
    throw error;
  }
}

async function startServices(): Promise<void> {
  await requireMariaDb();
  await requireRedis();
  if (process.env.AFTY_TEST_REDIS_CLUSTER) {
    await requireRedis(redisClusterSeed()).catch((error: Error) => {
      throw new Error(
        `AFTY_TEST_REDIS_CLUSTER=${process.env.AFTY_TEST_REDIS_CLUSTER}: ${error.message.replace(/;.*$/, '')}; unset it to let the tests start their own cluster`,
        { cause: error },
      );
    });
    return;
  }
  cluster = await startRedisCluster();
  const started = cluster;
  removeExitHook = onExit(() => started.stop());
  process.env.AFTY_TEST_REDIS_CLUSTER = cluster.nodes;
  // It forms while the test files run (their cluster tests wait for it: requireRedisCluster).
  started.formed.catch((error: Error) => {
    if (cluster !== started) return; // stopped at the end of a run too short to wait for it
    process.stderr.write(`The throwaway Redis Cluster on ${started.nodes} did not form: ${error.message}\n`);
  });
}

export function mochaGlobalTeardown(): void {
  removeExitHook?.();
  cluster?.stop();
  if (cluster) delete process.env.AFTY_TEST_REDIS_CLUSTER;
  cluster = undefined;
}
