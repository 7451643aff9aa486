import type { Knex } from 'knex';
import { fromDbTime, toDbTime } from './time.js';

const RUNS = 'afty_runs';
const PARTS = 'afty_run_parts';
const TENANTS = 'afty_run_tenants';

/** A tenant's state in a run: `pending` until its result is recorded (never started, or killed). */
export type RunTenantStatus = 'pending' | 'ok' | 'failed' | 'skipped' | 'locked' | 'timeout' | 'interrupted';

export interface RunTenantRow {
  tenant: string;
  part: string;
  status: RunTenantStatus;
  durationMs: number | null;
  error: string | null;
  step: string | null;
  /** What the command did there (e.g. the migrations it applied), as the command records it. */
  detail: unknown;
  finishedAt: string | null;
}

export interface RunPart {
  part: string;
  host: string;
  pid: number;
  startedAt: string;
  finishedAt: string | null;
  /** ok, failed, interrupted (with the signal), stopped (a wave); null while it runs or if it was killed. */
  outcome: string | null;
}

export interface RunSummary {
  id: string;
  command: string;
  arguments: string[];
  actor: string;
  startedAt: string;
  finishedAt: string | null;
  resumes: string | null;
  parts: RunPart[];
  totals: Record<RunTenantStatus, number> & { tenants: number };
}

export interface NewRun {
  id: string;
  command: string;
  /** Secrets already redacted. */
  arguments: string[];
  actor: string;
  resumes?: string;
  part: string;
  host: string;
  pid: number;
}

export interface RunFilter {
  command?: string;
  since?: Date;
  limit?: number;
}

const STATUSES: RunTenantStatus[] = [
  'pending',
  'ok',
  'failed',
  'skipped',
  'locked',
  'timeout',
  'interrupted',
];
/** Rows per statement: large fleets stay under the drivers' bound-parameter limits. */
const CHUNK = 250;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) out.push(items.slice(start, start + CHUNK));
  return out;
}

/** Run records in the registry database, beside afty's other tables. */
export class RunStore {
  constructor(private readonly db: Knex) {}

  /**
   * Opens a run (or joins it, for shards writing into one `--run-id`) and records the tenants
   * this part will work on as pending.
   */
  async begin(run: NewRun, tenants: string[]): Promise<void> {
    const now = toDbTime();
    await this.db(RUNS)
      .insert({
        id: run.id,
        command: run.command,
        arguments: JSON.stringify(run.arguments),
        actor: run.actor.slice(0, 191),
        started_at: now,
        resumes: run.resumes ?? null,
      })
      .onConflict('id')
      .ignore();
    await this.db(PARTS)
      .insert({ run_id: run.id, part: run.part, host: run.host.slice(0, 255), pid: run.pid, started_at: now })
      .onConflict(['run_id', 'part'])
      .merge(['host', 'pid', 'started_at']);
    await this.db(RUNS).where({ id: run.id }).update({ finished_at: null });
    for (const part of chunks(tenants)) {
      await this.db(TENANTS)
        .insert(
          part.map((tenant) => ({ run_id: run.id, tenant_id: tenant, part: run.part, status: 'pending' })),
        )
        .onConflict(['run_id', 'tenant_id'])
        .merge(['part', 'status']);
    }
  }

  /** Records finished tenants (a batch). */
  async record(runId: string, rows: RunTenantRow[]): Promise<void> {
    for (const part of chunks(rows)) {
      await this.db(TENANTS)
        .insert(
          part.map((row) => ({
            run_id: runId,
            tenant_id: row.tenant,
            part: row.part,
            status: row.status,
            duration_ms: row.durationMs,
            error: row.error,
            step: row.step?.slice(0, 255) ?? null,
            detail: row.detail === undefined || row.detail === null ? null : JSON.stringify(row.detail),
            finished_at: row.finishedAt ? toDbTime(new Date(row.finishedAt)) : null,
          })),
        )
        .onConflict(['run_id', 'tenant_id'])
        .merge();
    }
  }

  /** Closes this part; the run is finished once every part is. */
  async end(runId: string, part: string, outcome: string): Promise<void> {
    const now = toDbTime();
    await this.db(PARTS).where({ run_id: runId, part }).update({ finished_at: now, outcome });
    const open = (await this.db(PARTS)
      .where({ run_id: runId })
      .whereNull('finished_at')
      .count({ count: '*' })
      .first()) as {
      count: number | string;
    };
    if (Number(open.count) === 0) await this.db(RUNS).where({ id: runId }).update({ finished_at: now });
  }

  async exists(id: string): Promise<boolean> {
    return Boolean(await this.db(RUNS).where({ id }).first('id'));
  }

  async list(filter: RunFilter = {}): Promise<RunSummary[]> {
    const query = this.db(RUNS).select('*').orderBy('started_at', 'desc').orderBy('id', 'desc');
    if (filter.command) query.where({ command: filter.command });
    if (filter.since) query.where('started_at', '>=', toDbTime(filter.since));
    query.limit(filter.limit ?? 50);
    const rows = (await query) as RunRow[];
    return Promise.all(rows.map((row) => this.summary(row)));
  }

  async find(id: string): Promise<RunSummary | undefined> {
    const row = (await this.db(RUNS).where({ id }).first()) as RunRow | undefined;
    return row ? this.summary(row) : undefined;
  }

  async tenants(id: string): Promise<RunTenantRow[]> {
    const rows = (await this.db(TENANTS).where({ run_id: id }).orderBy('tenant_id')) as TenantRow[];
    return rows.map((row) => ({
      tenant: row.tenant_id,
      part: row.part,
      status: row.status as RunTenantStatus,
      durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
      error: row.error,
      step: row.step,
      detail: row.detail === null ? null : (JSON.parse(row.detail) as unknown),
      finishedAt: fromDbTime(row.finished_at),
    }));
  }

  /** Removes runs that started before `before`; returns how many. */
  async prune(before: Date): Promise<number> {
    const old = (
      (await this.db(RUNS).where('started_at', '<', toDbTime(before)).select('id')) as Array<{
        id: string;
      }>
    ).map((row) => row.id);
    for (const ids of chunks(old)) {
      // Explicitly, not only by cascade: SQLite enforces foreign keys only when asked to.
      await this.db(TENANTS).whereIn('run_id', ids).delete();
      await this.db(PARTS).whereIn('run_id', ids).delete();
      await this.db(RUNS).whereIn('id', ids).delete();
    }
    return old.length;
  }

  private async summary(row: RunRow): Promise<RunSummary> {
    const parts = (await this.db(PARTS).where({ run_id: row.id }).orderBy('part')) as PartRow[];
    const counts = (await this.db(TENANTS)
      .where({ run_id: row.id })
      .select('status')
      .count({ count: '*' })
      .groupBy('status')) as Array<{ status: string; count: number | string }>;
    const totals = Object.fromEntries(STATUSES.map((status) => [status, 0])) as RunSummary['totals'];
    totals.tenants = 0;
    for (const { status, count } of counts) {
      totals[status as RunTenantStatus] = Number(count);
      totals.tenants += Number(count);
    }
    return {
      id: row.id,
      command: row.command,
      arguments: JSON.parse(row.arguments) as string[],
      actor: row.actor,
      startedAt: fromDbTime(row.started_at)!,
      finishedAt: fromDbTime(row.finished_at),
      resumes: row.resumes,
      parts: parts.map((part) => ({
        part: part.part,
        host: part.host,
        pid: Number(part.pid),
        startedAt: fromDbTime(part.started_at)!,
        finishedAt: fromDbTime(part.finished_at),
        outcome: part.outcome,
      })),
      totals,
    };
  }
}

interface RunRow {
  id: string;
  command: string;
  arguments: string;
  actor: string;
  started_at: string;
  finished_at: string | null;
  resumes: string | null;
}

interface PartRow {
  part: string;
  host: string;
  pid: number;
  started_at: string;
  finished_at: string | null;
  outcome: string | null;
}

interface TenantRow {
  tenant_id: string;
  part: string;
  status: string;
  duration_ms: number | null;
  error: string | null;
  step: string | null;
  detail: string | null;
  finished_at: string | null;
}
