import { Transform } from 'node:stream';

/**
 * The tables and views a mariadb-dump/mysqldump stream creates, read as the stream passes: a
 * dump can exit 0 and still leave a table out (one dropped or renamed while it listed them), and
 * such an archive must never be taken for a backup. The statements are matched at a line start,
 * where the dump tools write them: `CREATE TABLE \`name\` (` and, for a view's final definition,
 * `/*!50001 VIEW \`name\` AS` (a row never holds a raw newline: the tools write it as \n). Names
 * are backquoted, with backquotes doubled.
 */
const MARKERS = [
  { type: 'table' as const, marker: Buffer.from('\nCREATE TABLE `') },
  { type: 'view' as const, marker: Buffer.from('\n/*!50001 VIEW `') },
];
/** A marker and a 64-character name, each character up to 4 bytes and doubled if a backquote. */
const WINDOW = 16 + 64 * 8 + 1;
const BACKQUOTE = 0x60;

/** The backquoted name starting at `start`, or undefined if it ends past the buffer. */
function readName(buffer: Buffer, start: number): string | undefined {
  for (let index = start; index < buffer.length; index += 1) {
    if (buffer[index] !== BACKQUOTE) continue;
    if (buffer[index + 1] === BACKQUOTE) {
      index += 1;
      continue;
    }
    if (index + 1 >= buffer.length) return undefined; // the next byte may be a second backquote
    return buffer.subarray(start, index).toString('utf8').replace(/``/g, '`');
  }
  return undefined;
}

export interface DumpContents {
  /** Pass the dump through this; it is left unchanged. */
  stream: Transform;
  /** `table:name` and `view:name` for every object created so far. */
  created: Set<string>;
}

export function dumpContents(): DumpContents {
  const created = new Set<string>();
  // The end of the previous chunk, so a statement split across two chunks is still seen; the
  // first line of the dump is a comment, so a leading "\n" lets every marker need one.
  let tail = Buffer.from('\n');
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const buffer = Buffer.concat([tail, chunk]);
      for (const { type, marker } of MARKERS) {
        for (let at = buffer.indexOf(marker); at >= 0; at = buffer.indexOf(marker, at + 1)) {
          const name = readName(buffer, at + marker.length);
          if (name !== undefined) created.add(`${type}:${name}`);
        }
      }
      tail = buffer.subarray(Math.max(0, buffer.length - WINDOW));
      done(null, chunk);
    },
  });
  return { stream, created };
}
