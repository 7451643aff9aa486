import { Chalk, type ChalkInstance } from 'chalk';

/** Colours only for a terminal, and never with NO_COLOR (https://no-color.org). */
export function colorsEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

export const color: ChalkInstance = new Chalk({ level: colorsEnabled() ? 1 : 0 });
export const colorErr: ChalkInstance = new Chalk({ level: colorsEnabled(process.stderr) ? 1 : 0 });

/**
 * How a column may be fitted to a narrow terminal. `id` cells (ids, names, paths, numbers, times:
 * values people copy or grep) are always printed whole; `text` cells (free text: titles,
 * messages) wrap when the table is wider than the terminal.
 */
export type ColumnKind = 'id' | 'text';

export interface Column {
  header: string;
  kind: ColumnKind;
}

export interface TableOptions {
  columns: Column[];
  rows: Array<Array<string | number | null | undefined>>;
  /**
   * The width to fit. Default: the terminal's when stdout is one; otherwise none, so piped output
   * keeps one greppable line per row.
   */
  width?: number;
}

const GAP = '  ';
/** A free-text column is not wrapped narrower than this (or its header, if wider). */
const MIN_TEXT_WIDTH = 10;

/**
 * A compact table in the style of gh and sf: a header row and aligned columns, no box and no
 * rule between rows. When it is wider than `width`, the widest free-text column is narrowed (and
 * wrapped) first; if the id columns alone do not fit, each row is printed as a block of
 * `header  value` lines instead, so ids and paths are never cut or squeezed.
 */
export async function renderTable({ columns, rows, width = terminalWidth() }: TableOptions): Promise<string> {
  const [{ default: stringWidth }, { default: wrapAnsi }] = await Promise.all([
    import('string-width'),
    import('wrap-ansi'),
  ]);
  // One line per cell; lines come only from wrapping, so piped rows stay one line each.
  const cells = rows.map((row) =>
    columns.map((_, index) => String(row[index] ?? '').replace(/\s*[\r\n]+\s*/g, ' ')),
  );
  const headers = columns.map((column) => column.header);
  const widths = headers.map((header, index) =>
    Math.max(stringWidth(header), ...cells.map((row) => stringWidth(row[index]!))),
  );
  const wrap = (text: string, columns: number) =>
    wrapAnsi(text, columns, { hard: true, trim: true }).split('\n');
  const line = (parts: string[]) =>
    parts
      .map((part, index) =>
        index === parts.length - 1 ? part : part + ' '.repeat(widths[index]! - stringWidth(part)),
      )
      .join(GAP)
      .trimEnd();

  if (width !== undefined && !narrowTextColumns(columns, widths, width, stringWidth)) {
    return renderRecords(columns, cells, width, stringWidth, wrap);
  }
  const output = [line(headers.map((header) => color.bold(header)))];
  for (const row of cells) {
    const wrapped = row.map((cell, index) =>
      columns[index]!.kind === 'text' && stringWidth(cell) > widths[index]!
        ? wrap(cell, widths[index]!)
        : [cell],
    );
    const height = Math.max(...wrapped.map((lines) => lines.length));
    for (let at = 0; at < height; at += 1) output.push(line(wrapped.map((lines) => lines[at] ?? '')));
  }
  return output.join('\n');
}

function terminalWidth(): number | undefined {
  return process.stdout.isTTY ? process.stdout.columns || undefined : undefined;
}

/**
 * Narrows the widest free-text column, one character at a time, until the table fits `width`.
 * Returns whether it fits; `widths` is changed in place.
 */
function narrowTextColumns(
  columns: Column[],
  widths: number[],
  width: number,
  stringWidth: (text: string) => number,
): boolean {
  const total = () => widths.reduce((sum, each) => sum + each, GAP.length * (widths.length - 1));
  const floor = columns.map((column, index) =>
    column.kind === 'text'
      ? Math.min(widths[index]!, Math.max(MIN_TEXT_WIDTH, stringWidth(column.header)))
      : widths[index]!,
  );
  while (total() > width) {
    let widest = -1;
    for (const [index, each] of widths.entries()) {
      if (each > floor[index]! && (widest < 0 || each > widths[widest]!)) widest = index;
    }
    if (widest < 0) return false;
    widths[widest]! -= 1;
  }
  return true;
}

/**
 * Each row as `header  value` lines, rows apart by a blank line: for terminals too narrow for the
 * ids. An id that does not fit beside its header gets a line of its own; one wider than the whole
 * terminal is still printed whole (the terminal wraps it), so it can be copied.
 */
function renderRecords(
  columns: Column[],
  cells: string[][],
  width: number,
  stringWidth: (text: string) => number,
  wrap: (text: string, columns: number) => string[],
): string {
  const labelWidth = Math.max(...columns.map((column) => stringWidth(column.header)));
  const valueWidth = width - labelWidth - GAP.length;
  const indent = ' '.repeat(labelWidth + GAP.length);
  return cells
    .map((row) =>
      row
        .flatMap((cell, index) => {
          const { header, kind } = columns[index]!;
          const label = color.bold(header) + ' '.repeat(labelWidth - stringWidth(header));
          if (stringWidth(cell) <= valueWidth) return [`${label}${GAP}${cell}`.trimEnd()];
          if (kind === 'id') return [color.bold(header), cell];
          if (valueWidth >= MIN_TEXT_WIDTH) {
            const [first, ...more] = wrap(cell, valueWidth);
            return [`${label}${GAP}${first}`, ...more.map((part) => indent + part)];
          }
          return [color.bold(header), ...wrap(cell, width)];
        })
        .join('\n'),
    )
    .join('\n\n');
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
