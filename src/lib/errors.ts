/**
 * Errors carry the process exit code (README, "Output and exit codes") so every layer can fail precisely
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

/** The server could not be reached or the connection broke. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/** The server answered but cannot serve now: out of connections or resources, shutting down, read-only. */
const SERVER_TROUBLE_CODES = new Set([
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_USER_LIMIT_REACHED',
  'ER_OUT_OF_RESOURCES',
  'ER_OUTOFMEMORY',
  'ER_OUT_OF_SORTMEMORY',
  'ER_CANT_CREATE_THREAD',
  'ER_DISK_FULL',
  'ER_RECORD_FILE_FULL',
  'ER_SERVER_SHUTDOWN',
  'ER_SHUTDOWN_COMPLETE',
  'ER_NORMAL_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_HOST_IS_BLOCKED',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_WRITE_INTERRUPTED',
  'ER_NET_READ_ERROR',
  'ER_NET_ERROR_ON_WRITE',
  // PostgreSQL SQLSTATEs: too_many_connections, cannot_connect_now, admin/crash shutdown,
  // disk_full, out_of_memory, insufficient_resources, read_only_sql_transaction.
  '53300',
  '57P03',
  '57P01',
  '57P02',
  '53100',
  '53200',
  '53000',
  '25006',
]);

/** The server refused the login: user, password or host are wrong, a configuration problem. */
const LOGIN_REFUSED_CODES = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
  'ER_HOST_NOT_PRIVILEGED',
  'ER_NOT_SUPPORTED_AUTH_MODE',
  'ER_DBACCESS_DENIED_ERROR',
  // PostgreSQL: invalid_password, invalid_authorization_specification (no such role, pg_hba).
  '28P01',
  '28000',
]);

/** The database named in the connection does not exist (MySQL, PostgreSQL). */
const MISSING_DATABASE_CODES = new Set(['ER_BAD_DB_ERROR', '3D000']);

export function isMissingDatabaseError(error: unknown): boolean {
  return codesOf(error).some((code) => MISSING_DATABASE_CODES.has(code));
}

/** How a driver error reads, for its exit code: 3 for the first two, 2 for a refused login. */
export type DriverFailure = 'unreachable' | 'server' | 'login' | undefined;

function codesOf(error: unknown): string[] {
  if (!error || typeof error !== 'object') return [];
  const { code, name, errors } = error as { code?: unknown; name?: unknown; errors?: unknown };
  const own = [code, name === 'KnexTimeoutError' ? 'KNEX_TIMEOUT' : undefined].filter(
    (value): value is string => typeof value === 'string',
  );
  return Array.isArray(errors) ? [...own, ...errors.flatMap(codesOf)] : own;
}

/**
 * pg reports a connect timeout and a socket closed under it by message only: give them the
 * codes the classification reads.
 */
function pgConnectionCodes(error: unknown): string[] {
  const message = error instanceof Error ? error.message : '';
  if (/Connection terminated due to connection timeout|timeout expired/.test(message)) return ['ETIMEDOUT'];
  if (/Connection terminated unexpectedly/.test(message)) return ['ECONNRESET'];
  return [];
}

export function driverFailure(error: unknown): DriverFailure {
  const codes = [...codesOf(error), ...pgConnectionCodes(error)];
  if (codes.some((code) => LOGIN_REFUSED_CODES.has(code))) return 'login';
  if (codes.some((code) => UNREACHABLE_CODES.has(code))) return 'unreachable';
  // knex gives up waiting for a pool connection when the server never answers (e.g. frozen).
  if (codes.some((code) => SERVER_TROUBLE_CODES.has(code) || code === 'KNEX_TIMEOUT')) return 'server';
  return undefined;
}

/** True for driver errors that mean a service problem (exit 3): unreachable, or unable to serve. */
export function isConnectionError(error: unknown): boolean {
  const failure = driverFailure(error);
  return failure === 'unreachable' || failure === 'server';
}

/** A login the server refused. Exit 2: the user, password or host in the configuration are wrong. */
export class LoginRefusedError extends AftyError {
  constructor(message: string, options: AftyErrorOptions = {}) {
    super(message, ExitCode.invalidInput, 'access_denied', options);
  }
}

export interface DriverErrorContext {
  /** What was being reached, e.g. `database server "default" (mysql://root@127.0.0.1:3306)`. */
  target: string;
  /** Where the user and password came from, e.g. `AFTY_SERVER_URL`. */
  credentials?: string;
  tenant?: string;
}

/**
 * The one-line AftyError for a driver error that is about the server rather than the SQL: a
 * refused login (exit 2, naming where the password came from), an unreachable server or one that
 * cannot serve (exit 3). undefined for anything else (the caller's own error applies).
 */
export function classifyDriverError(error: unknown, context: DriverErrorContext): AftyError | undefined {
  if (error instanceof AftyError) return error;
  const failure = driverFailure(error);
  const detail = driverMessage(error);
  if (failure === 'login') {
    return new LoginRefusedError(`${context.target} refused the login: ${detail}`, {
      tenant: context.tenant,
      hint: context.credentials
        ? `the password comes from ${context.credentials}: check the user, password and host there`
        : 'check the user, password and host',
      cause: error,
    });
  }
  if (failure === 'server') {
    const limit = codesOf(error).find((code) =>
      ['ER_CON_COUNT_ERROR', 'ER_TOO_MANY_USER_CONNECTIONS', 'ER_USER_LIMIT_REACHED', '53300'].includes(code),
    );
    return new ServiceError(`${context.target} cannot serve afty now: ${detail}`, {
      tenant: context.tenant,
      hint: limit
        ? 'its connection limit is reached: wait for other clients, lower --concurrency, or raise max_connections'
        : 'the server is overloaded, shutting down or read-only: check its state, then retry',
      cause: error,
    });
  }
  if (failure === 'unreachable') {
    return new ServiceError(`cannot reach ${context.target}: ${detail}`, {
      tenant: context.tenant,
      hint: 'check that the server is running and the host and port in the configuration',
      cause: error,
    });
  }
  return undefined;
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

/**
 * The driver's own message without the SQL text: knex prefixes errors with the statement and its
 * bound values, which can include passwords.
 */
export function driverMessage(error: unknown): string {
  if (error && typeof error === 'object') {
    const { sqlMessage, code, message } = error as { sqlMessage?: string; code?: string; message?: string };
    if (sqlMessage) return sqlMessage;
    if (message && message.includes(' - ')) return message.slice(message.lastIndexOf(' - ') + 3);
    if (message) return message;
    if (code) return code;
  }
  return String(error);
}
