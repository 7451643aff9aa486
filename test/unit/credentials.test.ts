import assert from 'node:assert/strict';
import {
  decryptSecret,
  encryptSecret,
  generatePassword,
  isEncrypted,
} from '../../src/lib/tenants/credentials.js';
import { tenantDatabaseName, tenantUserName } from '../../src/lib/tenants/naming.js';

const SECRET = 'unit-test-secret-0123456789';

describe('tenant credentials', () => {
  it('round-trips through AES-256-GCM with a fresh IV each time', () => {
    const password = generatePassword();
    const first = encryptSecret(password, SECRET);
    const second = encryptSecret(password, SECRET);
    assert.notEqual(first, second);
    assert.ok(!first.includes(password), '!first.includes(password)');
    assert.ok(isEncrypted(first), 'isEncrypted(first)');
    assert.equal(decryptSecret(first, SECRET), password);
  });

  it('refuses a wrong key or a tampered value, naming the tenant', () => {
    const stored = encryptSecret('s3cret', SECRET);
    assert.throws(
      () => decryptSecret(stored, 'another-secret-0123456789', 'acme'),
      /tenant acme|cannot decrypt/,
    );
    const tampered = `${stored.slice(0, -4)}AAAA`;
    assert.throws(() => decryptSecret(tampered, SECRET), /cannot decrypt/);
  });

  it('needs AFTY_SECRET, long enough (exit 2, says how to set it)', () => {
    assert.throws(
      () => encryptSecret('x', undefined),
      (error: Error & { exitCode?: number; hint?: string }) =>
        error.exitCode === 2 && /AFTY_SECRET/.test(error.hint ?? ''),
    );
    assert.throws(() => encryptSecret('x', 'short'), /shorter than 16/);
  });

  it('generates 32-character URL-safe passwords', () => {
    const password = generatePassword();
    assert.match(password, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(password, generatePassword());
  });
});

describe('tenant naming', () => {
  it('maps ids to database names one-to-one', () => {
    assert.equal(tenantDatabaseName('tenant_', 'acme-co'), 'tenant_acme_co');
    assert.throws(() => tenantDatabaseName('p'.repeat(30), 'a'.repeat(40)), /longer than 64/);
  });

  it('keeps user names within MySQL 8 limits (32) and distinct', () => {
    assert.equal(tenantUserName('tenant_acme'), 'tenant_acme');
    const a = tenantUserName(`tenant_${'a'.repeat(30)}x`);
    const b = tenantUserName(`tenant_${'a'.repeat(30)}y`);
    assert.equal(a.length, 32);
    assert.notEqual(a, b);
  });
});
