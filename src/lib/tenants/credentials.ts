import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { InputError, OperationError } from '../errors.js';

const FORMAT = 'v1';
const MIN_SECRET_LENGTH = 16;
export const SECRET_HINT =
  'set AFTY_SECRET to a long random value, e.g. export AFTY_SECRET=$(openssl rand -hex 32)';

function keyFrom(secret: string | undefined): Buffer {
  if (!secret)
    throw new InputError('AFTY_SECRET is not set, so tenant credentials cannot be stored', {
      hint: SECRET_HINT,
    });
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new InputError(`AFTY_SECRET is shorter than ${MIN_SECRET_LENGTH} characters`, {
      hint: SECRET_HINT,
    });
  }
  return Buffer.from(hkdfSync('sha256', secret, 'afty', 'tenant-credentials', 32));
}

/** Throws the exit-2 "set AFTY_SECRET" error early, before any database is created. */
export function assertSecret(secret: string | undefined): void {
  keyFrom(secret);
}

/** A random password: 32 URL-safe characters (192 bits). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** AES-256-GCM: `v1:` + base64(iv ‖ tag ‖ ciphertext). */
export function encryptSecret(plain: string, secret: string | undefined): string {
  const key = keyFrom(secret);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `${FORMAT}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

export function decryptSecret(stored: string, secret: string | undefined, tenant?: string): string {
  const key = keyFrom(secret);
  if (!stored.startsWith(`${FORMAT}:`)) {
    throw new OperationError('stored credentials are not in a known format', { tenant });
  }
  const raw = Buffer.from(stored.slice(FORMAT.length + 1), 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw new OperationError('cannot decrypt stored credentials', {
      tenant,
      hint: 'AFTY_SECRET differs from the one used when the tenant was created',
    });
  }
}

/** True when a stored value is encrypted by afty (used by security checks). */
export function isEncrypted(stored: string): boolean {
  return (
    stored.startsWith(`${FORMAT}:`) && Buffer.from(stored.slice(FORMAT.length + 1), 'base64').length > 28
  );
}

/** The password of a tenant as it connects: stored plain by some registries (stancl), else decrypted. */
export function revealPassword(
  tenant: { id: string; dbPassword: string | null; plainPassword?: true },
  secret: string | undefined,
): string | undefined {
  if (!tenant.dbPassword) return undefined;
  return tenant.plainPassword ? tenant.dbPassword : decryptSecret(tenant.dbPassword, secret, tenant.id);
}

/** A new password as the registry stores it: as is where its application reads it so, else encrypted. */
export function sealPassword(plain: string, secret: string | undefined, storedPlain: boolean): string {
  return storedPlain ? plain : encryptSecret(plain, secret);
}
