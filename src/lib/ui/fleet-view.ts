import { stripVTControlCharacters } from 'node:util';
import type { FleetEvent, FleetObserver, FleetResult, TenantOutcome } from '../fleet/index.js';
import { colorErr as color, formatDuration } from './output.js';
import { statusLine } from './status-line.js';

/** How a fleet run is shown while it runs. */
export interface FleetViewOptions {
  /** What the run does, e.g. "migrate". */
  verb: string;
  /** --verbose: a line for every step, not only every tenant. */
  verbose: boolean;
  /** What an ok tenant's line says it did. */
  detail?(value: unknown): string | undefined;
  /** Where progress goes (stderr: stdout carries results). */
  stream?: NodeJS.WriteStream;
  /** Forces the live view on or off (default: on when `stream` is a terminal). */
  live?: boolean;
}

export interface FleetView {
  readonly observe: FleetObserver;
  /** Ends the view: the live area is cleared, the cursor shown again. */
  finish(): void;
}

const ICONS: Record<TenantOutcome, string> = {
  ok: '✓',
  failed: '✖',
  locked: '✖',
  timeout: '✖',
  interrupted: '!',
  skipped: '-',
};

function iconOf(status: TenantOutcome): string {
  const icon = ICONS[status];
  if (status === 'ok') return color.green(icon);
  if (status === 'skipped' || status === 'interrupted') return color.yellow(icon);
  return color.red(icon);
}

function failureText(result: FleetResult<unknown>): string {
  const label = result.status === 'failed' ? '' : `${result.status}: `;
  return `${label}${result.step ? `${result.step}: ` : ''}${result.error ?? ''}`;
}

function stoppingText(signal: NodeJS.Signals, hard: boolean, running: number): string {
  const tenants = `${running} running tenant${running === 1 ? '' : 's'}`;
  return hard
    ? `${signal} again: aborting ${tenants} now, freeing their locks`
    : `${signal}: starting no new tenant; ${tenants} finish their current step (press Ctrl-C again to abort them)`;
}

/** The live view in a terminal, plain lines elsewhere (or with --json). */
export function createFleetView(options: FleetViewOptions): FleetView {
  const stream = options.stream ?? process.stderr;
  const live = options.live ?? (Boolean(stream.isTTY) && process.env.TERM !== 'dumb');
  statusLine.clear();
  return live ? new LiveFleetView(options, stream) : new PlainFleetView(options, stream);
}

/**
 * Without a terminal: a first line, then one line per finished tenant (and per step with
 * --verbose), each naming its tenant, so interleaved concurrent tenants stay readable in a log.
 */
class PlainFleetView implements FleetView {
  constructor(
    private readonly options: FleetViewOptions,
    private readonly stream: NodeJS.WriteStream,
  ) {}

  readonly observe: FleetObserver = (event) => {
    const line = this.lineFor(event);
    if (line !== undefined) this.stream.write(`${line}\n`);
    if (event.type === 'tenant-output') {
      (event.stream === 'stdout' ? process.stdout : process.stderr).write(
        `[${event.tenant}] ${event.line}\n`,
      );
    }
  };

  private lineFor(event: FleetEvent): string | undefined {
    switch (event.type) {
      case 'run-started':
        return `${this.options.verb}: ${event.tenants} tenant${event.tenants === 1 ? '' : 's'}, ${event.concurrency} at a time`;
      case 'step-finished':
        return this.options.verbose
          ? `  ${event.tenant}: ${event.step} (${[event.detail, formatDuration(event.durationMs)].filter(Boolean).join(', ')})`
          : undefined;
      case 'tenant-finished': {
        const { result } = event;
        const text =
          result.status === 'ok'
            ? (this.options.detail?.(result.value) ?? 'done')
            : result.status === 'skipped'
              ? `skipped: ${result.error ?? ''}`
              : failureText(result);
        const duration = result.status === 'skipped' ? '' : ` (${formatDuration(result.durationMs)})`;
        return `${iconOf(result.status)} ${result.tenant}: ${text}${duration}`;
      }
      case 'wave-started':
        return `wave ${event.wave} of ${event.waves}: ${event.tenants} tenant${event.tenants === 1 ? '' : 's'}`;
      case 'run-stopping':
        return color.yellow(stoppingText(event.signal, event.hard, event.running));
      default:
        return undefined;
    }
  }

  finish(): void {}
}

interface RunningTenant {
  server: string;
  startedAt: number;
  steps?: number;
  stepIndex: number;
  step?: string;
  stepStartedAt: number;
  note?: string;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 100;
/** Failures kept for the view; the summary after the run lists them all. */
const FAILURES_KEPT = 50;

/** A colour escape (ESC [ … m), which takes no column. */
const SGR = new RegExp(`^${String.fromCharCode(27)}\\[[0-9;]*m`);

/** Cuts a line to `width` columns; colour codes are kept and take no width. */
export function fitLine(line: string, width: number): string {
  if (stripVTControlCharacters(line).length <= width) return line;
  let visible = 0;
  let out = '';
  for (let index = 0; index < line.length;) {
    const escape = SGR.exec(line.slice(index));
    if (escape) {
      out += escape[0];
      index += escape[0].length;
      continue;
    }
    const char = String.fromCodePoint(line.codePointAt(index)!);
    if (visible >= width - 1) {
      out += '…';
      break;
    }
    out += char;
    visible += 1;
    index += char.length;
  }
  return `${out}\x1b[0m`;
}

/**
 * The live view: one overall line (done/total, ok, failed, locked, elapsed, ETA), then only the
 * tenants running now with their current step, then the failures so far; finished tenants fold
 * into the counts. At most 10 frames a second, only changed lines rewritten, never taller than
 * the terminal nor wider than it, so a 10,000-tenant run costs the terminal what a 10-tenant one
 * does.
 */
class LiveFleetView implements FleetView {
  private total = 0;
  private concurrency = 0;
  private readonly started = performance.now();
  private readonly counts: Record<TenantOutcome, number> = {
    ok: 0,
    failed: 0,
    skipped: 0,
    locked: 0,
    timeout: 0,
    interrupted: 0,
  };
  private finished = 0;
  private readonly running = new Map<string, RunningTenant>();
  private readonly failures: Array<{ tenant: string; text: string }> = [];
  private stopping?: string;
  private wave?: string;
  /** Lines to print above the live area at the next frame (verbose steps, child output). */
  private readonly pending: Array<{ stream: NodeJS.WriteStream; text: string }> = [];
  private drawn: string[] = [];
  private dirty = true;
  private frame = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly onResize = () => {
    this.resized = true;
    this.dirty = true;
  };
  private resized = false;

  constructor(
    private readonly options: FleetViewOptions,
    private readonly stream: NodeJS.WriteStream,
  ) {
    this.stream.write('\x1b[?25l');
    process.once('exit', this.restoreCursor);
    this.stream.on('resize', this.onResize);
    this.timer = setInterval(() => this.render(), FRAME_MS);
    this.timer.unref();
  }

  private readonly restoreCursor = () => {
    this.stream.write('\x1b[?25h');
  };

  private width(): number {
    return this.stream.columns || 80;
  }

  readonly observe: FleetObserver = (event) => {
    this.dirty = true;
    switch (event.type) {
      case 'run-started':
        this.total = event.tenants;
        this.concurrency = event.concurrency;
        break;
      case 'wave-started':
        this.wave = `wave ${event.wave}/${event.waves}`;
        break;
      case 'tenant-started':
        this.running.set(event.tenant, {
          server: event.server,
          startedAt: event.at,
          stepIndex: 0,
          stepStartedAt: event.at,
        });
        break;
      case 'tenant-planned': {
        const tenant = this.running.get(event.tenant);
        if (tenant) tenant.steps = event.steps.length;
        break;
      }
      case 'step-started': {
        const tenant = this.running.get(event.tenant);
        if (tenant) {
          tenant.step = event.step;
          tenant.stepIndex += 1;
          tenant.stepStartedAt = event.at;
          tenant.note = undefined;
        }
        break;
      }
      case 'step-finished':
        if (this.options.verbose) {
          const facts = [event.detail, formatDuration(event.durationMs)].filter(Boolean).join(', ');
          this.pending.push({ stream: this.stream, text: `  ${event.tenant}: ${event.step} (${facts})` });
        }
        break;
      case 'tenant-note': {
        const tenant = this.running.get(event.tenant);
        if (tenant) tenant.note = event.text;
        break;
      }
      case 'tenant-output':
        this.pending.push({
          stream: event.stream === 'stdout' ? process.stdout : process.stderr,
          text: `[${event.tenant}] ${event.line}`,
        });
        break;
      case 'tenant-finished': {
        const { result } = event;
        this.running.delete(result.tenant);
        this.counts[result.status] += 1;
        this.finished += 1;
        if (result.status !== 'ok' && result.status !== 'skipped') {
          this.failures.push({ tenant: result.tenant, text: failureText(result) });
          if (this.failures.length > FAILURES_KEPT) this.failures.shift();
        }
        if (this.options.verbose && result.status === 'ok') {
          const detail = this.options.detail?.(result.value) ?? 'done';
          this.pending.push({
            stream: this.stream,
            text: `${iconOf('ok')} ${result.tenant}: ${detail} (${formatDuration(result.durationMs)})`,
          });
        }
        break;
      }
      case 'run-stopping':
        this.stopping = stoppingText(event.signal, event.hard, event.running);
        break;
      default:
        break;
    }
  };

  private header(now: number): string {
    const elapsed = now - this.started;
    const parts = [
      `${color.cyan(SPINNER[this.frame % SPINNER.length]!)} ${this.options.verb} ${this.finished}/${this.total}${this.wave ? ` (${this.wave})` : ''}`,
      color.green(`${this.counts.ok} ok`),
    ];
    const failed = this.counts.failed + this.counts.timeout;
    if (failed) parts.push(color.red(`${failed} failed`));
    if (this.counts.locked) parts.push(color.red(`${this.counts.locked} locked`));
    if (this.counts.interrupted) parts.push(color.yellow(`${this.counts.interrupted} interrupted`));
    if (this.counts.skipped) parts.push(color.yellow(`${this.counts.skipped} skipped`));
    parts.push(`${formatSeconds(elapsed)} elapsed`);
    const done = this.finished;
    if (done > 0 && done < this.total) {
      parts.push(`ETA ${formatSeconds((elapsed / done) * (this.total - done))}`);
    }
    return parts.join(' · ');
  }

  private lines(now: number): string[] {
    const width = this.width();
    const rows = Math.max(3, (this.stream.rows || 24) - 1);
    const lines = [this.header(now)];
    if (this.stopping) lines.push(color.yellow(this.stopping));
    const room = rows - lines.length;
    const failureRoom = this.failures.length
      ? Math.max(1, Math.min(this.failures.length, Math.floor(room / 3)))
      : 0;
    const running = [...this.running.entries()];
    const runningRoom = Math.max(0, room - failureRoom);
    const shownRunning = running.length > runningRoom ? Math.max(0, runningRoom - 1) : running.length;
    const idWidth = Math.min(24, Math.max(0, ...running.slice(0, shownRunning).map(([id]) => id.length)));
    for (const [id, tenant] of running.slice(0, shownRunning)) {
      const step = tenant.step
        ? `${tenant.step}${tenant.steps ? ` (${tenant.stepIndex}/${tenant.steps})` : ''}`
        : (tenant.note ?? 'starting');
      const seconds = Math.floor((now - tenant.stepStartedAt) / 1000);
      lines.push(
        `  ${id.padEnd(idWidth)}  ${step}${tenant.note && tenant.step ? ` — ${tenant.note}` : ''}${seconds >= 1 ? color.dim(` ${seconds}s`) : ''}`,
      );
    }
    if (shownRunning < running.length) {
      lines.push(
        color.dim(`  … and ${running.length - shownRunning} more running (${this.concurrency} at a time)`),
      );
    }
    const shownFailures = this.failures.slice(-failureRoom);
    const hidden =
      this.counts.failed +
      this.counts.locked +
      this.counts.timeout +
      this.counts.interrupted -
      shownFailures.length;
    for (const [index, failure] of shownFailures.entries()) {
      const more = index === 0 && hidden > 0 ? color.dim(` (+${hidden} more, listed at the end)`) : '';
      lines.push(`  ${color.red('✖')} ${failure.tenant}  ${failure.text}${more}`);
    }
    return lines.map((line) => fitLine(line, width - 1));
  }

  /** Rows the drawn frame takes now (lines wrap when the terminal got narrower). */
  private drawnRows(width: number): number {
    return this.drawn.reduce(
      (sum, line) => sum + Math.max(1, Math.ceil(stripVTControlCharacters(line).length / width)),
      0,
    );
  }

  private render(): void {
    const now = performance.now();
    this.frame += 1;
    // Idle frames are skipped, but the clock in the overall line still ticks once a second.
    if (!this.dirty && this.frame % 10 !== 0) return;
    this.dirty = false;
    const next = this.lines(now);
    let out: string;
    if (this.resized || this.pending.length > 0 || next.length !== this.drawn.length) {
      out = this.clearAndFlush(this.resized ? this.drawnRows(this.width()) : this.drawn.length);
      for (const line of next) out += `${line}\n`;
    } else {
      out = '';
      next.forEach((line, index) => {
        if (line === this.drawn[index]) return;
        const up = this.drawn.length - index;
        out += `\x1b[${up}A\r\x1b[2K${line}\x1b[${up}B\r`;
      });
    }
    this.resized = false;
    this.drawn = next;
    if (out) this.stream.write(out);
  }

  /**
   * Clears the live area and prints the lines waiting to go above it, in order: lines for our
   * stream are returned to be written with the next frame; a line for the other stream (a
   * child's stdout) is written there once the clear before it is out.
   */
  private clearAndFlush(rows: number): string {
    let out = rows ? `\x1b[${rows}A\r\x1b[J` : '';
    for (const { stream, text } of this.pending.splice(0)) {
      if (stream === this.stream) out += `${text}\n`;
      else {
        this.stream.write(out);
        out = '';
        stream.write(`${text}\n`);
      }
    }
    return out;
  }

  finish(): void {
    clearInterval(this.timer);
    this.stream.off('resize', this.onResize);
    this.stream.write(`${this.clearAndFlush(this.drawn.length)}\x1b[?25h`);
    this.drawn = [];
    process.off('exit', this.restoreCursor);
  }
}

function formatSeconds(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
