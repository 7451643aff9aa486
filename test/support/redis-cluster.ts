import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './private-servers.js';

/**
 * A throwaway 3-master Redis Cluster from the installed redis-server, on ports the kernel picks,
 * so the cluster tests need nothing on the machine beyond the redis-server binary.
 */
export interface ThrowawayCluster {
  /** "127.0.0.1:PORT,…", the form AFTY_TEST_REDIS_CLUSTER takes. */
  nodes: string;
  /**
   * Settles once the nodes have their slots and know each other (seconds of gossip). The servers
   * are started, and their ports known, before: the test files start meanwhile, and the cluster
   * tests wait for it themselves (requireRedisCluster in services.ts).
   */
  formed: Promise<void>;
  /** Kills the servers and removes their folder; synchronous, so it can run on exit and signals. */
  stop(): void;
}

const SLOT_COUNT = 16384;
const MASTERS = 3;
const CLUSTER_WAIT_MS = 20_000;

function client(port: number): Redis {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => {});
  return redis;
}

export async function startRedisCluster(): Promise<ThrowawayCluster> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'afty-redis-cluster-'));
  const children: ChildProcess[] = [];
  const stopped = new AbortController();
  const stop = () => {
    stopped.abort(new Error('the Redis Cluster was stopped'));
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const ports: Array<{ port: number; bus: number }> = [];
    const taken = new Set<number>();
    while (ports.length < MASTERS) {
      // The bus port is given explicitly: the default (port + 10000) can be past 65535 or in use.
      const [port, bus] = [await freePort(), await freePort()];
      if (port === bus || taken.has(port) || taken.has(bus)) continue;
      taken.add(port).add(bus);
      ports.push({ port, bus });
    }
    for (const { port, bus } of ports) {
      const dir = path.join(base, String(port));
      mkdirSync(dir);
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-port',
          String(bus),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(dir, 'nodes.conf'),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        // A process group of its own: a Ctrl-C in the terminal reaches mocha, whose exit hook
        // stops the servers, and not the servers themselves, which would race it for their folder.
        { stdio: 'ignore', detached: true },
      );
      child.unref();
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            error.code === 'ENOENT'
              ? new Error(
                  'redis-server is not installed; the tests start a throwaway Redis Cluster from it: bash scripts/services.sh installs it (or set AFTY_TEST_REDIS_CLUSTER to an existing cluster)',
                )
              : error,
          ),
        );
      });
    }
    const formed = form(ports, stopped.signal);
    formed.catch(() => {}); // read by whoever awaits it; never an unhandled rejection
    return { nodes: ports.map(({ port }) => `127.0.0.1:${port}`).join(','), formed, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

/** Gives each node its third of the slots and introduces them, then waits until all say ok. */
async function form(ports: Array<{ port: number; bus: number }>, signal: AbortSignal): Promise<void> {
  const redis = ports.map(({ port }) => client(port));
  try {
    for (const [index, node] of redis.entries()) {
      await waitFor(
        `redis-server on ${ports[index]!.port}`,
        async () => {
          if (node.status !== 'ready') await node.connect();
          return (await node.ping()) === 'PONG';
        },
        CLUSTER_WAIT_MS,
        signal,
      );
    }
    for (const [index, node] of redis.entries()) {
      const first = Math.floor((SLOT_COUNT * index) / MASTERS);
      const last = Math.floor((SLOT_COUNT * (index + 1)) / MASTERS) - 1;
      await node.call('CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
    }
    for (const { port, bus } of ports.slice(1)) {
      await redis[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(port), String(bus));
    }
    await waitFor(
      'the Redis Cluster',
      async () => {
        for (const node of redis) {
          const info = String(await node.call('CLUSTER', 'INFO'));
          if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${MASTERS}`))
            return false;
        }
        return true;
      },
      CLUSTER_WAIT_MS,
      signal,
    );
  } finally {
    for (const node of redis) node.disconnect();
  }
}
