import { createReadStream, createWriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The few parts of POSIX ustar that tenant archives need: regular files, written in order and
 * read back in order. Readable by any `tar`. Reading never uses an entry's name as a path: the
 * caller checks names against what it expects.
 */

const BLOCK = 512;
/** ustar's size field: 11 octal digits. */
export const MAX_ENTRY_BYTES = 8 ** 11 - 1;

function header(name: string, size: number, mtime: Date): Buffer {
  const block = Buffer.alloc(BLOCK);
  const field = (value: string, offset: number, length: number) =>
    block.write(value, offset, length, 'ascii');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0');
  field(name, 0, 100);
  field(octal(0o600, 8), 100, 8);
  field(octal(0, 8), 108, 8);
  field(octal(0, 8), 116, 8);
  field(octal(size, 12), 124, 12);
  field(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\u000000', 257, 8);
  let sum = 0;
  for (const byte of block) sum += byte;
  field(`${octal(sum, 7)}\u0000`, 148, 8);
  return block;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

export interface TarSource {
  name: string;
  size: number;
  /** The entry's bytes: a buffer, or a file streamed from disk. */
  data: Buffer | { file: string };
}

/** Writes the entries to `target` as one tar file. */
export async function writeTar(target: string, entries: TarSource[], mtime = new Date()): Promise<void> {
  const output = createWriteStream(target, { mode: 0o600, flags: 'wx' });
  async function* blocks() {
    for (const entry of entries) {
      yield header(entry.name, entry.size, mtime);
      if (Buffer.isBuffer(entry.data)) yield entry.data;
      else yield* createReadStream(entry.data.file, { highWaterMark: 1 << 20 });
      yield padding(entry.size);
    }
    yield Buffer.alloc(BLOCK * 2);
  }
  await pipeline(Readable.from(blocks()), output);
}

export interface TarEntry {
  name: string;
  /** '0' (or NUL): a regular file; anything else is refused by the readers of tenant archives. */
  type: string;
  size: number;
  /** Where the entry's bytes start in the file. */
  offset: number;
}

/** Thrown for anything that is not a well-formed tar file. */
export class TarFormatError extends Error {}

function parseOctal(field: Buffer): number {
  const text = field.toString('ascii').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError('a header field is not a number');
  return parseInt(text, 8);
}

/** Reads tar headers one after the other; `next()` is undefined at the end-of-archive blocks. */
export class TarReader {
  private position = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly file: string,
    private readonly length: number,
  ) {}

  static async open(file: string): Promise<TarReader> {
    const handle = await open(file, 'r');
    return new TarReader(handle, file, (await handle.stat()).size);
  }

  async next(): Promise<TarEntry | undefined> {
    if (this.position + BLOCK > this.length) {
      if (this.position === this.length) return undefined;
      throw new TarFormatError('the file ends inside a header');
    }
    const block = Buffer.alloc(BLOCK);
    await this.handle.read(block, 0, BLOCK, this.position);
    if (block.every((byte) => byte === 0)) return undefined;
    const stored = parseOctal(block.subarray(148, 156));
    block.write('        ', 148, 8, 'ascii');
    let sum = 0;
    for (const byte of block) sum += byte;
    if (sum !== stored) throw new TarFormatError('a header checksum is wrong');
    const prefix = block.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const base = block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseOctal(block.subarray(124, 136));
    const offset = this.position + BLOCK;
    if (offset + size > this.length) throw new TarFormatError('the file ends inside an entry');
    this.position = offset + size + padding(size).length;
    return {
      name: prefix ? `${prefix}/${base}` : base,
      type: String.fromCharCode(block[156]!),
      size,
      offset,
    };
  }

  /** An entry's bytes into memory (small entries only: the caller bounds `size`). */
  async read(entry: TarEntry): Promise<Buffer> {
    const buffer = Buffer.alloc(entry.size);
    await this.handle.read(buffer, 0, entry.size, entry.offset);
    return buffer;
  }

  /** Streams an entry's bytes into `sink`. */
  async copy(entry: TarEntry, sink: Writable): Promise<void> {
    if (entry.size === 0) {
      sink.end();
      return;
    }
    await pipeline(
      createReadStream(this.file, {
        start: entry.offset,
        end: entry.offset + entry.size - 1,
        highWaterMark: 1 << 20,
      }),
      sink,
    );
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
