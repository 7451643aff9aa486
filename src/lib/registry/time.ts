/** Registry timestamps are UTC `YYYY-MM-DD HH:MM:SS.mmm`, the same text on MySQL and SQLite. */
export function toDbTime(date: Date = new Date()): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

export function fromDbTime(value: string | Date | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  return `${value.replace(' ', 'T')}${value.includes('.') ? '' : '.000'}Z`;
}
