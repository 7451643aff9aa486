import assert from 'node:assert/strict';
import {
  archiveExtension,
  backupTimestamp,
  manifestName,
  parseBackupTimestamp,
  type TableSummary,
} from '../../src/lib/backup/archive.js';
import { compareTables } from '../../src/lib/backup/inspect.js';
import {
  RESTORE_SCRATCH_MARK,
  safetyCopyDate,
  safetyCopyName,
  scratchName,
} from '../../src/lib/backup/naming.js';
import { dumpContents } from '../../src/lib/backup/dump-contents.js';
import { parseAge } from '../../src/lib/backup/prune.js';

const table = (name: string, rows: number, rowsExact = true): TableSummary => ({
  name,
  type: 'table',
  rows,
  rowsExact,
});

describe('backup naming', () => {
  it('archive names are UTC timestamps that sort chronologically and parse back', () => {
    const at = new Date('2026-11-23T11:05:32.123Z');
    assert.equal(backupTimestamp(at), '20261123T110532.123Z');
    assert.deepEqual(parseBackupTimestamp('20261123T110532.123Z'), at);
    assert.equal(parseBackupTimestamp('2026-11-23'), undefined);
    assert.ok(
      backupTimestamp(new Date('2026-01-02T00:00:00Z')) < backupTimestamp(new Date('2026-10-01T00:00:00Z')),
    );
    assert.equal(archiveExtension('mysql', true), '.sql.gz');
    assert.equal(archiveExtension('sqlite', false), '.sqlite');
    assert.equal(manifestName('20261123T110532.123Z.sql.gz'), '20261123T110532.123Z.json');
    assert.equal(manifestName('20261123T110532.123Z.sqlite'), '20261123T110532.123Z.json');
  });

  it('safety copies carry their time to the millisecond; `$` keeps them apart from tenant databases', () => {
    const at = new Date('2026-11-23T11:05:32.123Z');
    const name = safetyCopyName('tenant_acme', at);
    assert.equal(name, 'tenant_acme$s261123110532123');
    assert.deepEqual(safetyCopyDate('tenant_acme', name), at);
    assert.equal(safetyCopyDate('tenant_acme', 'tenant_acme$sjunk'), undefined);
    assert.match(scratchName('tenant_acme', RESTORE_SCRATCH_MARK), /^tenant_acme\$r[0-9a-f]{6}$/);
  });

  it('refuses names MySQL would cut at 64 characters (exit 2)', () => {
    const longest = `tenant_${'a'.repeat(40)}`;
    assert.equal(safetyCopyName(longest, new Date()).length, 64);
    assert.throws(
      () => safetyCopyName(`${longest}x`, new Date()),
      (error: Error & { exitCode?: number }) => error.exitCode === 2 && /longer than 64/.test(error.message),
    );
  });
});

describe('backup prune ages', () => {
  it('parses hours, days and weeks', () => {
    assert.equal(parseAge('12h'), 12 * 3_600_000);
    assert.equal(parseAge('30d'), 30 * 86_400_000);
    assert.equal(parseAge('2w'), 14 * 86_400_000);
    assert.equal(parseAge('0d'), 0);
  });

  for (const bad of ['', '30', 'd', '-1d', '1.5d', '3x', '30 days']) {
    it(`rejects ${JSON.stringify(bad)} with exit 2`, () => {
      assert.throws(
        () => parseAge(bad),
        (error: Error & { exitCode?: number }) => error.exitCode === 2 && /invalid age/.test(error.message),
      );
    });
  }
});

describe('comparing a restore with its manifest', () => {
  it('accepts exact counts that match and views by name', () => {
    const expected = [table('posts', 3), { name: 'v', type: 'view' as const, rows: 0, rowsExact: true }];
    const checks = compareTables(expected, expected);
    assert.ok(
      checks.every((check) => check.ok),
      'checks.every((check) => check.ok)',
    );
    assert.deepEqual(
      checks.map((check) => [check.name, check.expectedRows, check.restoredRows]),
      [
        ['posts', 3, 3],
        ['v', null, null],
      ],
    );
  });

  it('flags missing, extra, retyped tables and wrong exact counts', () => {
    const checks = compareTables(
      [table('posts', 3), table('gone', 1), table('shape', 1)],
      [table('posts', 2), { name: 'shape', type: 'view', rows: 0, rowsExact: true }, table('extra', 5)],
    );
    assert.deepEqual(
      checks.map((check) => [check.name, check.ok, check.problem]),
      [
        ['posts', false, '2 rows, manifest says 3'],
        ['gone', false, 'missing'],
        ['shape', false, 'restored as a view'],
        ['extra', false, 'not in the manifest'],
      ],
    );
  });

  it('treats MySQL estimates as a range, not an exact count', () => {
    const ok = compareTables([table('big', 10_000, false)], [table('big', 12_000)]);
    assert.equal(ok[0]!.ok, true);
    const off = compareTables([table('big', 10_000, false)], [table('big', 100)]);
    assert.deepEqual([off[0]!.ok, off[0]!.problem], [false, '100 rows, manifest says about 10000']);
    // A fresh table's estimate is often 0: small counts pass.
    assert.equal(compareTables([table('new', 0, false)], [table('new', 40)])[0]!.ok, true);
  });
});

describe('dump contents (what a mariadb-dump stream creates)', () => {
  const dump = [
    '-- MariaDB dump 10.19',
    '--',
    '-- Table structure for table `b`',
    'CREATE TABLE `b` (',
    '  `id` int(11) DEFAULT NULL',
    ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;',
    "INSERT INTO `b` VALUES ('\\nCREATE TABLE `fake` (');",
    '/*!50001 CREATE VIEW `v 1` AS SELECT',
    ' 1 AS `id` */;',
    'CREATE TABLE `we``ird ü` (',
    '  `id` int(11) NOT NULL',
    ');',
    '/*!50001 CREATE ALGORITHM=UNDEFINED */',
    '/*!50001 VIEW `v 1` AS select `b`.`id` AS `id` from `b` */;',
    '-- Dump completed on 2026-12-02  2:02:06',
    '',
  ].join('\n');

  it('finds every table and final view definition however the stream is cut', async () => {
    const bytes = Buffer.from(dump);
    for (const size of [1, 2, 3, 7, 16, 64, bytes.length]) {
      const contents = dumpContents();
      const passed: Buffer[] = [];
      contents.stream.on('data', (chunk: Buffer) => passed.push(chunk));
      for (let start = 0; start < bytes.length; start += size)
        contents.stream.write(bytes.subarray(start, start + size));
      contents.stream.end();
      await new Promise((resolve) => contents.stream.on('end', resolve));
      assert.deepEqual(
        [...contents.created].sort(),
        ['table:b', 'table:we`ird ü', 'view:v 1'],
        `chunks of ${size}`,
      );
      assert.equal(Buffer.concat(passed).toString(), dump, 'the stream is passed on unchanged');
    }
  });
});
