/** A LIKE pattern for names starting with `prefix` literally (`_` and `%` escaped, ESCAPE '\'). */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\_%]/g, (char) => `\\${char}`)}%`;
}
