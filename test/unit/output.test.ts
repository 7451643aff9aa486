import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import stringWidth from 'string-width';
import { renderTable, type Column } from '../../src/lib/ui/output.js';

// A backup listing (every column an id or path) and a fleet summary (a long free-text column).
const backupColumns: Column[] = [
  { header: 'tenant', kind: 'id' },
  { header: 'created (UTC)', kind: 'id' },
  { header: 'size', kind: 'id' },
  { header: 'file', kind: 'id' },
];
const backups = [
  ['acme', '2026-12-01 22:42:01', '997 B', 'bk/acme/20261201T224201.574Z.sqlite.gz'],
  ['globex-industries', '2026-12-02 08:00:00', '1.2 MiB', 'bk/globex/20261202T080000.000Z.sql.gz'],
];
const fleetColumns: Column[] = [
  { header: 'tenant', kind: 'id' },
  { header: 'result', kind: 'id' },
  { header: 'duration', kind: 'id' },
  { header: 'detail', kind: 'text' },
];
const error =
  'migration 002_teams failed: SQLITE_ERROR: table teams already exists (002_teams is recorded as not applied; the migrations before it are)';
const fleet = [
  ['alpha', 'ok', '12ms', '3 migrations applied'],
  ['bravo', 'failed', '1.4s', error],
];

const lines = (output: string) => output.split('\n');
const words = (text: string) => text.split(/\s+/).filter(Boolean);

describe('renderTable', () => {
  it('piped (no width): a header row, aligned columns, one line per row, no box, no ANSI', async () => {
    const output = await renderTable({ columns: fleetColumns, rows: fleet });
    const [head, ...rows] = lines(output);
    assert.equal(rows.length, fleet.length, output);
    assert.match(head!, /^tenant {2}result {2}duration {2}detail$/);
    assert.equal(output, stripVTControlCharacters(output), 'no ANSI codes');
    assert.doesNotMatch(output, /[─│┌└├┼]/);
    // Every row's detail starts in the header's column, whole.
    const column = head!.indexOf('detail');
    assert.equal(rows[1]!.slice(column), error);
    assert.equal(rows[0]!.slice(column), '3 migrations applied');
  });

  it('keeps a piped row on one line even when a cell holds line breaks', async () => {
    const output = await renderTable({
      columns: fleetColumns,
      rows: [['alpha', 'failed', '1s', 'first\nsecond']],
    });
    assert.deepEqual(lines(output).slice(1), ['alpha   failed  1s        first second']);
  });

  it('measures cells without their colour codes', async () => {
    const output = await renderTable({
      columns: [
        { header: 'status', kind: 'id' },
        { header: 'tenant', kind: 'id' },
      ],
      rows: [['\u001b[32mactive\u001b[39m', 'acme']],
      width: 80,
    });
    assert.equal(stripVTControlCharacters(output), 'status  tenant\nactive  acme');
  });

  for (const width of [40, 60, 120, 200]) {
    it(`fits ${width} columns, keeping every id and path whole on one line`, async () => {
      for (const [columns, rows] of [
        [backupColumns, backups],
        [fleetColumns, fleet],
      ] as const) {
        const output = stripVTControlCharacters(await renderTable({ columns, rows, width }));
        for (const line of lines(output)) {
          assert.ok(stringWidth(line) <= width, `${stringWidth(line)} > ${width}: ${JSON.stringify(line)}`);
        }
        for (const row of rows) {
          for (const [index, cell] of row.entries()) {
            if (columns[index]!.kind === 'id') {
              assert.ok(
                lines(output).some((line) => line.includes(cell)),
                `${cell} whole at ${width}:\n${output}`,
              );
            }
          }
        }
      }
      // Free text may wrap, but loses no word.
      const failed = await renderTable({ columns: fleetColumns, rows: [fleet[1]!], width });
      assert.deepEqual(words(failed), [
        'tenant',
        'result',
        'duration',
        'detail',
        ...fleet[1]!.flatMap(words),
      ]);
    });
  }

  it('narrows the widest free-text column first and keeps the table layout while the ids fit', async () => {
    const output = await renderTable({ columns: fleetColumns, rows: fleet, width: 60 });
    const [head, ...rest] = lines(output);
    assert.match(head!, /^tenant {2}result {2}duration {2}detail$/);
    assert.ok(rest.length > fleet.length, `the error wraps:\n${output}`);
    const column = head!.indexOf('detail');
    for (const line of rest) assert.ok(line.length <= 60 && !line.slice(0, column).includes('SQLITE'), line);
  });

  it('takes the overflow from the widest free-text column before the others', async () => {
    const columns: Column[] = [
      { header: 'id', kind: 'id' },
      { header: 'name', kind: 'text' },
      { header: 'title', kind: 'text' },
    ];
    const rows = [['acme', 'Acme Corporation International', 'Operations lead']]; // 4 + 30 + 15 + 4 = 53
    const output = await renderTable({ columns, rows, width: 43 });
    const [head, ...rest] = lines(output);
    assert.equal(head, `id    name${' '.repeat(16)}  title`, output); // name narrowed from 30 to 20
    assert.deepEqual(rest, ['acme  Acme Corporation      Operations lead', '      International']);
  });

  it('prints rows as header/value blocks when even the ids do not fit', async () => {
    const output = await renderTable({ columns: backupColumns, rows: backups, width: 40 });
    assert.equal(
      output,
      [
        'tenant         acme',
        'created (UTC)  2026-12-01 22:42:01',
        'size           997 B',
        'file',
        'bk/acme/20261201T224201.574Z.sqlite.gz',
        '',
        'tenant         globex-industries',
        'created (UTC)  2026-12-02 08:00:00',
        'size           1.2 MiB',
        'file',
        'bk/globex/20261202T080000.000Z.sql.gz',
      ].join('\n'),
    );
  });

  it('prints an id wider than the terminal whole, on a line of its own, rather than cut it', async () => {
    const path = `backups/${'x'.repeat(50)}/20261201T224201.574Z.sqlite.gz`;
    const output = await renderTable({
      columns: [
        { header: 'tenant', kind: 'id' },
        { header: 'file', kind: 'id' },
      ],
      rows: [['acme', path]],
      width: 40,
    });
    assert.deepEqual(lines(output), ['tenant  acme', 'file', path]);
  });
});
