import xterm from '@xterm/headless';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';
import { runFleet, type FleetTenant } from '../../src/lib/fleet/index.js';
import { createFleetView, fitLine } from '../../src/lib/ui/fleet-view.js';

/** A terminal-like stream that records what the view writes. */
class FakeTerminal extends EventEmitter {
  readonly isTTY = true;
  readonly writes: string[] = [];
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
  get bytes(): number {
    return Buffer.byteLength(this.writes.join(''));
  }
}

/** Replays the writes into a terminal emulator: what scrolled away, and whether any line wrapped. */
async function replay(terminal: FakeTerminal) {
  const screen = new xterm.Terminal({ cols: terminal.columns, rows: terminal.rows, allowProposedApi: true });
  let scrolled = 0;
  let wrapped = false;
  for (const text of terminal.writes) {
    await new Promise<void>((resolve) => screen.write(text.replace(/\n/g, '\r\n'), resolve));
    scrolled = Math.max(scrolled, screen.buffer.active.baseY);
    for (let row = 0; row < screen.buffer.active.length; row += 1) {
      if (screen.buffer.active.getLine(row)?.isWrapped) wrapped = true;
    }
  }
  const lines = Array.from(
    { length: terminal.rows },
    (_, row) => screen.buffer.active.getLine(screen.buffer.active.baseY + row)?.translateToString(true) ?? '',
  );
  screen.dispose();
  return { scrolled, wrapped, lines };
}

const fleet = (count: number): FleetTenant[] =>
  Array.from({ length: count }, (_, index) => ({ id: `tenant-${index}`, server: 'default' }));

describe('fleet live view', () => {
  it('shows a 10,000-tenant run in a 20-row terminal: never taller or wider, ~10 frames a second, little output', async () => {
    const terminal = new FakeTerminal(80, 20);
    const view = createFleetView({ verb: 'migrate', verbose: false, stream: terminal as never, live: true });
    const started = performance.now();
    let failures = 0;
    await runFleet(
      fleet(10_000),
      async (tenant, progress) => {
        progress.plan(['001_a.js', '002_b.js']);
        await progress.step('001_a.js', async () => undefined);
        if (Number(tenant.id.slice(7)) % 97 === 0) {
          failures += 1;
          progress.stepStarted('002_b.js');
          throw new Error(`a long error message that goes on and on for tenant ${tenant.id} `.repeat(3));
        }
        await progress.step('002_b.js', () => sleep(0));
      },
      { concurrency: 64, observer: view.observe },
    );
    await sleep(250);
    view.finish();
    const elapsed = performance.now() - started;
    const { scrolled, wrapped, lines } = await replay(terminal);
    assert.equal(scrolled, 0, 'nothing scrolled off the top: the view never got taller than the terminal');
    assert.equal(wrapped, false, 'no line wrapped: every line fits the width');
    // Frames: the first, one per 100 ms tick at most, and the final clear.
    const frames = terminal.writes.length;
    assert.ok(frames <= elapsed / 100 + 4, `${frames} writes in ${Math.round(elapsed)} ms`);
    assert.ok(terminal.bytes < 100 * elapsed, `${terminal.bytes} bytes in ${Math.round(elapsed)} ms`);
    assert.ok(failures > 0);
    assert.deepEqual(
      lines.filter((line) => line.trim()),
      [],
      'the view clears itself when the run ends',
    );
  });

  it('while running: the overall line, the running tenants with their step, the failures; the rest folded', async () => {
    const terminal = new FakeTerminal(60, 8);
    const view = createFleetView({ verb: 'migrate', verbose: false, stream: terminal as never, live: true });
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const run = runFleet(
      fleet(12),
      async (tenant, progress) => {
        progress.plan(['001_a.js', '002_b.js']);
        if (tenant.id === 'tenant-0') throw new Error('broken');
        progress.stepStarted('002_b.js');
        await hold;
      },
      { concurrency: 10, observer: view.observe },
    );
    await sleep(350);
    const { lines } = await replay(terminal);
    release();
    await run;
    view.finish();
    assert.match(lines[0]!, /migrate 1\/12 · 0 ok · 1 failed · \d+s elapsed · ETA/);
    assert.match(lines[1]!, /^ {2}tenant-1 +002_b\.js \(1\/2\)/);
    assert.match(lines.join('\n'), /… and \d+ more running \(10 at a time\)/);
    assert.match(lines.filter((line) => line.trim()).at(-1)!, /✖ tenant-0 {2}broken/);
    assert.ok(lines.every((line) => line.length <= 59));
  });

  it('--verbose prints each finished step above the view, not in it', async () => {
    const terminal = new FakeTerminal(80, 10);
    const view = createFleetView({ verb: 'seed', verbose: true, stream: terminal as never, live: true });
    await runFleet(
      fleet(3),
      async (_tenant, progress) => {
        await progress.step('UsersSeeder', async () => undefined);
      },
      { concurrency: 3, observer: view.observe },
    );
    await sleep(150);
    view.finish();
    const { lines } = await replay(terminal);
    const text = lines.join('\n');
    for (const id of ['tenant-0', 'tenant-1', 'tenant-2']) {
      assert.match(text, new RegExp(`^ {2}${id}: UsersSeeder \\(\\d+ms\\)$`, 'm'));
      assert.match(text, new RegExp(`^✓ ${id}: done \\(\\d+ms\\)$`, 'm'));
    }
  });

  it('fitLine cuts to the width by visible characters and keeps colour codes whole', () => {
    const red = '\u001b[31mred text that is long\u001b[39m';
    const cut = fitLine(red, 8);
    assert.equal(stripVTControlCharacters(cut), 'red tex…');
    assert.ok(cut.startsWith('\u001b[31m'));
    assert.equal(fitLine('short', 10), 'short');
  });
});
