import { randomBytes } from 'node:crypto';
import { InputError } from '../errors.js';
import type { RunStore, RunTenantRow } from '../registry/index.js';
import type { FleetObserver } from './events.js';
import type { FleetResult } from './results.js';

/** A run id: sortable by time, unique enough across concurrent shards and hosts. */
export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `r${stamp}-${randomBytes(3).toString('hex')}`;
}

export function validateRunId(value: string, flag: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw new InputError(
      `invalid ${flag} ${JSON.stringify(value)}: 1-64 of letters, digits, . _ - (a letter or digit first)`,
    );
  }
  return value;
}

/** Rows are written in batches of this many, or after this long. */
const BATCH_ROWS = 200;
const BATCH_MS = 1000;

/**
 * Writes a fleet run to the registry as it goes: the tenants as pending when it starts, each
 * result as it finishes (batched, so a 1,000-tenant run costs a handful of statements), the end.
 * A run killed half-way keeps what was flushed; the rest stays pending for --resume.
 */
export class RunRecorder<T> {
  private buffer: RunTenantRow[] = [];
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private failure?: unknown;

  constructor(
    private readonly store: RunStore,
    readonly runId: string,
    private readonly part: string,
    /** What the run did on a tenant, for `runs show` and `rollback --run` (e.g. the migrations applied). */
    private readonly detailOf: (result: FleetResult<T>) => unknown,
  ) {}

  readonly observe: FleetObserver = (event) => {
    if (event.type !== 'tenant-finished') return;
    const result = event.result as FleetResult<T>;
    this.buffer.push({
      tenant: result.tenant,
      part: this.part,
      status: result.status,
      durationMs: Math.round(result.durationMs),
      error: result.error ?? null,
      step: result.step ?? null,
      detail: this.detailOf(result) ?? null,
      finishedAt: new Date().toISOString(),
    });
    if (this.buffer.length >= BATCH_ROWS) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  };

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer.splice(0);
    if (!rows.length) return;
    this.writing = this.writing
      .then(() => this.store.record(this.runId, rows))
      .catch((error: unknown) => {
        this.failure ??= error;
      });
  }

  /** Writes what is left and closes this part; the error of any failed write, if one did. */
  async finish(outcome: string): Promise<unknown> {
    this.flush();
    await this.writing;
    await this.store.end(this.runId, this.part, outcome).catch((error: unknown) => {
      this.failure ??= error;
    });
    return this.failure;
  }
}
