import { stripVTControlCharacters } from 'node:util';
import { Chalk, type ChalkInstance } from 'chalk';

/** Colours only for a terminal, and never with NO_COLOR (https://no-color.org). */
export function colorsEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

export const color: ChalkInstance = new Chalk({ level: colorsEnabled() ? 1 : 0 });
export const colorErr: ChalkInstance = new Chalk({ level: colorsEnabled(process.stderr) ? 1 : 0 });

export interface TableOptions {
  head: string[];
  rows: Array<Array<string | number | null | undefined>>;
}

/** A cell's printed width: its longest line, without ANSI colour codes. */
function cellWidth(cell: string): number {
  return Math.max(
    ...stripVTControlCharacters(cell)
      .split('\n')
      .map((line) => [...line].length),
  );
}

/**
 * A cli-table3 table; its own ANSI styling is off so piped output stays plain. On a terminal the
 * widest column is word-wrapped so the table fits the window; piped output is never wrapped, so
 * a row stays one greppable line.
 */
export async function renderTable({ head, rows }: TableOptions): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const cells = rows.map((row) =>
    row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))),
  );
  const header = head.map((cell) => color.bold(cell));
  const table = new Table({
    head: header,
    style: { head: [], border: [] },
    ...fitToWidth([header, ...cells]),
  });
  for (const row of cells) table.push(row);
  return table.toString();
}

/** cli-table3 options that shrink the widest column to the terminal's width, if it overflows. */
function fitToWidth(rows: string[][]): { colWidths?: number[]; wordWrap?: boolean } {
  const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
  if (!columns) return {};
  // Each cell has one space of padding on either side, and there is one more border than columns.
  const widths = rows[0]!.map((_, index) => Math.max(...rows.map((row) => cellWidth(row[index] ?? ''))) + 2);
  const overflow = widths.reduce((sum, width) => sum + width, widths.length + 1) - columns;
  if (overflow <= 0) return {};
  const widest = widths.indexOf(Math.max(...widths));
  widths[widest] = Math.max(12, widths[widest]! - overflow);
  return { colWidths: widths, wordWrap: true };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** A CSV field per RFC 4180, with spreadsheet formula injection neutralised. */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function statusColor(status: string): string {
  switch (status) {
    case 'active':
    case 'ok':
      return color.green(status);
    case 'suspended':
    case 'skipped':
      return color.yellow(status);
    case 'blocked':
    case 'failed':
      return color.red(status);
    default:
      return color.dim(status);
  }
}
