import type { DatabaseLocation, Engine, EngineKind, LocationOf } from '../engine.js';
import { mysqlEngine } from './mysql/index.js';
import { postgresEngine } from './postgres/index.js';
import { sqliteEngine } from './sqlite/index.js';

/** Every engine afty drives, by kind: the one line a new engine adds. */
export const ENGINES: { readonly [K in EngineKind]: Engine<K> } = {
  mysql: mysqlEngine,
  postgres: postgresEngine,
  sqlite: sqliteEngine,
};

export function engineOf<K extends EngineKind>(kind: K): Engine<K> {
  return ENGINES[kind];
}

/** The engine of a location, typed for the whole union (each engine's methods take its own locations). */
export function engineFor(location: DatabaseLocation): Engine {
  return ENGINES[location.driver] as Engine;
}

export function engineForScheme(scheme: string): Engine | undefined {
  return Object.values(ENGINES).find((engine) => engine.schemes.includes(scheme)) as Engine | undefined;
}

export function engineForClient(client: string): Engine | undefined {
  return Object.values(ENGINES).find((engine) => engine.clients.includes(client)) as Engine | undefined;
}

export function isEngineKind(value: unknown): value is EngineKind {
  return typeof value === 'string' && Object.hasOwn(ENGINES, value);
}

export type { LocationOf };
