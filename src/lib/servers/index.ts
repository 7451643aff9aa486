import type { AftyConfig, ServerConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { engineFor } from './engines/index.js';
import type { DatabaseServer } from './types.js';

export type { DatabaseServer, DatabaseCredentials, DatabaseStats } from './types.js';
export type { DatabaseLocation, EngineKind, NetworkLocation, SqliteLocation } from './engine.js';
export { engineFor, engineOf } from './engines/index.js';
export { MysqlServer, grantDatabasePattern } from './engines/mysql/server.js';
export { PostgresServer } from './engines/postgres/server.js';
export { SqliteServer } from './engines/sqlite/server.js';

function openServer(server: ServerConfig, config: AftyConfig): DatabaseServer {
  return engineFor(server.location).openServer(server, config);
}

/** The configured servers, opened lazily and closed together. */
export class ServerPool {
  private readonly opened = new Map<string, DatabaseServer>();

  constructor(private readonly config: AftyConfig) {}

  get names(): string[] {
    return this.config.servers.map((server) => server.name);
  }

  /** servers.<name>.concurrency: the most tenants a fleet run works on at once there. */
  concurrencyOf(name: string): number | undefined {
    return this.config.servers.find((server) => server.name === name)?.concurrency;
  }

  get(name: string): DatabaseServer {
    const existing = this.opened.get(name);
    if (existing) return existing;
    const server = this.config.servers.find((candidate) => candidate.name === name);
    if (!server) {
      throw new InputError(`unknown server "${name}": configured servers are ${this.names.join(', ')}`);
    }
    const opened = openServer(server, this.config);
    this.opened.set(name, opened);
    return opened;
  }

  async close(): Promise<void> {
    const servers = [...this.opened.values()];
    this.opened.clear();
    await Promise.all(servers.map((server) => server.close()));
  }
}
