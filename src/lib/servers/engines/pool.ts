import type { KnexOpenOptions } from '../engine.js';

/** A network engine's knex pool: opened on demand, each new raw connection handed to afty's tracking. */
export function trackedPool(options: KnexOpenOptions) {
  return {
    min: 0,
    max: options.poolMax,
    afterCreate(raw: unknown, done: (error: Error | null, raw: unknown) => void) {
      options.afterCreate(raw);
      done(null, raw);
    },
  };
}
