import { execa, type ResultPromise } from 'execa';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Servers a test starts for itself (own port, own datadir), for the faults that must never be
 * done to the shared services: kill -9, SIGSTOP, a full connection limit, a crash mid-run.
 */

/** A port nothing listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `ready` every 100 ms until it is true, failing after `timeoutMs` or once `signal` aborts. */
export async function waitFor(
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
}

export interface PrivateServer {
  port: number;
  /** The process, for signals. */
  pid(): number;
  /** SIGSTOP: the server keeps its sockets but answers nothing. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** kill -9: a crash. */
  crash(): Promise<void>;
  /** Starts it again on the same port and datadir (after crash()). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface PrivateMariaDb extends PrivateServer {
  /** mysql://root@127.0.0.1:PORT (root, empty password, as the shared server). */
  url: string;
  datadir: string;
  /** Runs SQL as root through the mariadb client; returns stdout. */
  sql(statement: string): Promise<string>;
}

/** A throwaway mariadbd from the installed binaries: its own datadir, port and socket. */
export async function startPrivateMariaDb(
  options: { extraArgs?: string[]; keepAnonymousUsers?: boolean } = {},
): Promise<PrivateMariaDb> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'afty-mariadb-'));
  const datadir = path.join(base, 'data');
  const socket = path.join(base, 'mysqld.sock');
  const tmpdir = path.join(base, 'tmp');
  mkdirSync(tmpdir);
  const port = await freePort();
  await execa('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${datadir}`,
    '--user=root',
    '--auth-root-authentication-method=normal',
    `--tmpdir=${tmpdir}`, // passed on to the bootstrap mariadbd (see the server's own --tmpdir)
    // The test database's script is also what creates the anonymous users of a stock install.
    ...(options.keepAnonymousUsers ? [] : ['--skip-test-db']),
  ]);
  let child: ResultPromise | undefined;
  const start = async () => {
    child = execa(
      '/usr/sbin/mariadbd',
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--socket=${socket}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        '--user=root',
        `--pid-file=${path.join(base, 'mysqld.pid')}`,
        // Its own tmpdir: at start-up mariadbd deletes every #sql* file in its tmpdir, which in the
        // shared /tmp are the shared server's in-use temporary tables ("Error on delete of
        // '/tmp/#sql-temptable-…'" in whatever test is using one then).
        `--tmpdir=${tmpdir}`,
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=32M',
        '--innodb-log-file-size=16M',
        '--innodb-flush-log-at-trx-commit=2',
        '--performance-schema=OFF',
        ...(options.extraArgs ?? []),
      ],
      { stdio: 'ignore', reject: false, cleanup: true },
    );
    await waitFor(`private mariadbd on ${port}`, async () => {
      const result = await execa(
        'mariadb',
        ['--protocol=tcp', '-h127.0.0.1', `-P${port}`, '-uroot', '-e', 'SELECT 1'],
        { reject: false, timeout: 2000 },
      );
      return result.exitCode === 0;
    });
  };
  const sql = async (statement: string) =>
    (
      await execa(
        'mariadb',
        ['--protocol=tcp', '-h127.0.0.1', `-P${port}`, '-uroot', '-N', '-B', '-e', statement],
        {
          timeout: 30_000,
        },
      )
    ).stdout;
  await start();
  // mariadb-install-db leaves anonymous users that shadow every other login from localhost.
  if (!options.keepAnonymousUsers)
    await sql("DELETE FROM mysql.global_priv WHERE User = ''; FLUSH PRIVILEGES;");
  const pid = () => {
    if (!child?.pid) throw new Error('private mariadbd is not running');
    return child.pid;
  };
  return {
    port,
    url: `mysql://root@127.0.0.1:${port}`,
    datadir,
    sql,
    pid,
    freeze: () => process.kill(pid(), 'SIGSTOP'),
    thaw: () => process.kill(pid(), 'SIGCONT'),
    async crash() {
      const running = child;
      process.kill(pid(), 'SIGKILL');
      await running;
      child = undefined;
    },
    restart: start,
    async stop() {
      if (child?.pid) {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
        await child;
      }
      child = undefined;
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis extends PrivateServer {
  url: string;
}

/** A throwaway redis-server on a free port that keeps nothing on disk. */
export async function startPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'afty-redis-'));
  const port = await freePort();
  let child: ResultPromise | undefined;
  const start = async () => {
    child = execa(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...extraArgs,
      ],
      { stdio: 'ignore', reject: false, cleanup: true },
    );
    await waitFor(`private redis-server on ${port}`, async () => {
      const result = await execa('redis-cli', ['-p', String(port), 'ping'], { reject: false, timeout: 2000 });
      return result.stdout.trim() === 'PONG';
    });
  };
  await start();
  const pid = () => {
    if (!child?.pid) throw new Error('private redis-server is not running');
    return child.pid;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    pid,
    freeze: () => process.kill(pid(), 'SIGSTOP'),
    thaw: () => process.kill(pid(), 'SIGCONT'),
    async crash() {
      const running = child;
      process.kill(pid(), 'SIGKILL');
      await running;
      child = undefined;
    },
    restart: start,
    async stop() {
      if (child?.pid) {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
        await child;
      }
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
