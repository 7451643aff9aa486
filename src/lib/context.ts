import type { AftyConfig } from './config/index.js';
import { Registry } from './registry/index.js';
import { ServerPool } from './servers/index.js';
import { setQueryTimeout } from './servers/watchdog.js';

/** What a command works with: config, the registry (opened on first use) and the servers. */
export class AftyContext {
  readonly servers: ServerPool;
  private registryPromise?: Promise<Registry>;
  private readonly background = new Set<Promise<unknown>>();

  constructor(readonly config: AftyConfig) {
    this.servers = new ServerPool(config);
    setQueryTimeout(config.timeouts.queryMs);
  }

  registry(): Promise<Registry> {
    this.registryPromise ??= Registry.open(this.config);
    // A failed open must not be cached, or a retry in the same process would see the stale error.
    this.registryPromise.catch(() => {
      this.registryPromise = undefined;
    });
    return this.registryPromise;
  }

  /** The registry if this command already opened it (audit must not open it just to log). */
  openedRegistry(): Promise<Registry> | undefined {
    return this.registryPromise;
  }

  /**
   * Bookkeeping that must be written but not waited for on a tenant's critical path (who holds a
   * lock): it runs beside the work and close() waits for it. Its failures are ignored.
   */
  inBackground(write: () => Promise<unknown>): void {
    const pending = write().catch(() => undefined);
    this.background.add(pending);
    void pending.finally(() => this.background.delete(pending));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.background]);
    const registry = this.registryPromise;
    this.registryPromise = undefined;
    await Promise.allSettled([this.servers.close(), registry?.then((opened) => opened.close())]);
  }
}
