/**
 * Errors carry the process exit code from DESIGN.md so every layer can fail precisely
 * and the base command only has to render them.
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  invalidInput: 2,
  serviceUnavailable: 3,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface AftyErrorOptions {
  tenant?: string;
  /** What the operator should do next; appended to the one-line message. */
  hint?: string;
  cause?: unknown;
}

export class AftyError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly tenant?: string;
  readonly hint?: string;
  readonly code: string;

  constructor(message: string, exitCode: ExitCodeValue, code: string, options: AftyErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.exitCode = exitCode;
    this.code = code;
    this.tenant = options.tenant;
    this.hint = options.hint;
  }

  /** One line: what failed, for which tenant, and what to do. */
  toLine(): string {
    const who = this.tenant ? `tenant ${this.tenant}: ` : '';
    const hint = this.hint ? ` — ${this.hint}` : '';
    return `${who}${this.message}${hint}`;
  }
}

/** Bad flags, arguments, config values or identifiers. Exit 2. */
export class InputError extends AftyError {
  constructor(message: string, options: AftyErrorOptions = {}) {
    super(message, ExitCode.invalidInput, 'invalid_input', options);
  }
}

/** Config file problems. Exit 2. */
export class ConfigError extends AftyError {
  constructor(message: string, options: AftyErrorOptions = {}) {
    super(message, ExitCode.invalidInput, 'invalid_config', options);
  }
}

/** A database, Redis or external tool that is unreachable or missing. Exit 3. */
export class ServiceError extends AftyError {
  constructor(message: string, options: AftyErrorOptions = {}) {
    super(message, ExitCode.serviceUnavailable, 'service_unavailable', options);
  }
}

/** An operation that ran and failed (or a fleet in which a tenant failed). Exit 1. */
export class OperationError extends AftyError {
  constructor(message: string, options: AftyErrorOptions = {}) {
    super(message, ExitCode.failed, 'operation_failed', options);
  }
}

export class NotFoundError extends AftyError {
  constructor(message: string, options: AftyErrorOptions = {}) {
    super(message, ExitCode.invalidInput, 'not_found', options);
  }
}

const connectionErrorCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'PROTOCOL_CONNECTION_LOST',
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
]);

/** True for driver errors that mean "could not reach / log in to the server". */
export function isConnectionError(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && connectionErrorCodes.has(code)) return true;
  const errors = (error as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.some((inner) => isConnectionError(inner));
}

export function errorMessage(error: unknown): string {
  if (error instanceof AftyError) return error.toLine();
  if (error instanceof AggregateError && error.errors.length > 0) return errorMessage(error.errors[0]);
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** The message for a per-tenant result row, where the tenant is already in its own column. */
export function tenantErrorMessage(error: unknown, tenant: string): string {
  if (error instanceof AftyError && error.tenant === tenant) {
    return `${error.message}${error.hint ? ` — ${error.hint}` : ''}`;
  }
  return errorMessage(error);
}
