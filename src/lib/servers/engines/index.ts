import type { DatabaseLocation, Engine, EngineKind, LocationOf } from '../engine.js';
import { mysqlEngine } from './mysql/index.js';
import { postgresEngine } from './postgres/index.js';
import { sqliteEngine } from './sqlite/index.js';

type Engines = { readonly [K in EngineKind]: Engine<K> };
let engines: Engines | undefined;

/**
 * Every engine afty drives, by kind: the one line a new engine adds. Built on first use, not at
 * load: the engines' own modules import this one (through migrations/ and registry/), and an
 * object literal read at load time would fail whichever engine module happened to load first.
 */
function byKind(): Engines {
  engines ??= { mysql: mysqlEngine, postgres: postgresEngine, sqlite: sqliteEngine };
  return engines;
}

/** Every engine, for what looks across all of them (URL schemes, clients, archive extensions). */
export function allEngines(): Engine[] {
  return Object.values(byKind()) as Engine[];
}

export function engineOf<K extends EngineKind>(kind: K): Engine<K> {
  return byKind()[kind];
}

/** The engine of a location, typed for the whole union (each engine's methods take its own locations). */
export function engineFor(location: DatabaseLocation): Engine {
  return byKind()[location.driver] as Engine;
}

export function engineForScheme(scheme: string): Engine | undefined {
  return allEngines().find((engine) => engine.schemes.includes(scheme));
}

export function engineForClient(client: string): Engine | undefined {
  return allEngines().find((engine) => engine.clients.includes(client));
}

export function isEngineKind(value: unknown): value is EngineKind {
  return typeof value === 'string' && Object.hasOwn(byKind(), value);
}

export type { LocationOf };
