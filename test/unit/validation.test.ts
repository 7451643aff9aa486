import assert from 'node:assert/strict';
import { InputError } from '../../src/lib/errors.js';
import {
  parseDurationSeconds,
  parseSettingAssignment,
  validateDomain,
  validateIp,
  validateStatus,
  validateDatabaseName,
  validateTenantId,
  validateTenantKey,
  validateTenantName,
  validateText,
} from '../../src/lib/validation/index.js';

describe('validation', () => {
  describe('registry tenant ids (any registry: UUIDs, integers, slugs)', () => {
    for (const id of [
      '550e8400-e29b-41d4-a716-446655440000',
      '42',
      'acme',
      'Acme_Co',
      'a.b:c@d',
      'x'.repeat(64),
    ]) {
      it(`accepts ${id.slice(0, 40)}`, () => assert.equal(validateTenantKey(id), id));
    }
    for (const id of [
      '',
      "it's",
      'say"no',
      'back\\slash',
      'a/b',
      '../etc',
      '.hidden',
      'a b',
      'tab\there',
      'new\nline',
      'brace{x}',
      'tick`',
      'x'.repeat(65),
      'аcme',
      '-lead',
    ]) {
      it(`rejects ${JSON.stringify(id)} with exit 2`, () => {
        assert.throws(
          () => validateTenantKey(id),
          (error: unknown) =>
            error instanceof InputError && error.exitCode === 2 && /invalid tenant id/.test(error.message),
        );
      });
    }
  });

  describe('database names', () => {
    for (const name of ['tenant_acme', 'tenant550e8400-e29b-41d4-a716-446655440000', 'Legacy$1']) {
      it(`accepts ${name}`, () => assert.equal(validateDatabaseName(name, '--database'), name));
    }
    for (const name of ['', 'a.b', 'a`b', 'a b', "a'b", 'a/b', 'x'.repeat(65)]) {
      it(`rejects ${JSON.stringify(name)}`, () => {
        assert.throws(() => validateDatabaseName(name, '--database'), /invalid --database/);
      });
    }
  });

  describe('tenant ids', () => {
    for (const id of ['ab', 'acme', 'acme-co', 'a1', `a${'b'.repeat(39)}`]) {
      it(`accepts ${id}`, () => assert.equal(validateTenantId(id), id));
    }
    for (const id of [
      'a',
      'Acme',
      '1acme',
      '-acme',
      'ac_me',
      'ac me',
      'acme;',
      `a${'b'.repeat(40)}`,
      'аcme',
      '',
    ]) {
      it(`rejects ${JSON.stringify(id)} with exit 2`, () => {
        assert.throws(
          () => validateTenantId(id),
          (error: unknown) =>
            error instanceof InputError && error.exitCode === 2 && /invalid tenant id/.test(error.message),
        );
      });
    }
  });

  describe('domains', () => {
    it('lower-cases', () => assert.equal(validateDomain('Acme.Example.COM'), 'acme.example.com'));
    it('accepts punycode labels', () =>
      assert.equal(validateDomain('xn--bcher-kva.example'), 'xn--bcher-kva.example'));
    const cases: Array<[string, RegExp]> = [
      ['https://acme.com', /scheme/],
      ['acme.com:8080', /port/],
      ['acme.com/path', /path/],
      ['127.0.0.1', /IP address/],
      ['acme..com', /label/],
      ['-acme.com', /label/],
      ['acme_co.com', /label/],
      ['bücher.example', /label/],
      ['acme.123', /numeric/],
      ['a'.repeat(64) + '.com', /label/],
      ['', /empty/],
    ];
    for (const [domain, why] of cases) {
      it(`rejects ${JSON.stringify(domain)}`, () => {
        assert.throws(
          () => validateDomain(domain),
          (error: unknown) => error instanceof InputError && why.test(error.message),
        );
      });
    }
  });

  it('validates IPs (v4 and v6), rejecting padding and garbage', () => {
    assert.equal(validateIp('203.0.113.7'), '203.0.113.7');
    assert.equal(validateIp('2001:db8::1'), '2001:db8::1');
    for (const bad of [' 1.2.3.4', '1.2.3', '1.2.3.4.5', '256.1.1.1', 'localhost', '1.2.3.4/24']) {
      assert.throws(() => validateIp(bad), InputError, bad);
    }
  });

  it('validates statuses', () => {
    assert.equal(validateStatus('suspended'), 'suspended');
    assert.throws(() => validateStatus('deleted'), /use one of active, suspended, blocked, inactive/);
  });

  it('validates names and one-line texts', () => {
    assert.equal(validateTenantName('  Acme Inc  '), 'Acme Inc');
    assert.throws(() => validateTenantName('a\nb'), /control characters/);
    assert.throws(() => validateTenantName('x'.repeat(192)), /1-191/);
    assert.equal(validateText(' unpaid ', '--reason', 255), 'unpaid');
    assert.throws(() => validateText('a\u0000b', '--reason', 255), /--reason/);
  });

  describe('--set key=value', () => {
    it('parses JSON values and keeps other text as strings', () => {
      assert.deepEqual(parseSettingAssignment('plan=pro'), { key: 'plan', value: 'pro' });
      assert.deepEqual(parseSettingAssignment('limits.users=50'), { key: 'limits.users', value: 50 });
      assert.deepEqual(parseSettingAssignment('beta=true'), { key: 'beta', value: true });
      assert.deepEqual(parseSettingAssignment('tags=["a","b"]'), { key: 'tags', value: ['a', 'b'] });
      assert.deepEqual(parseSettingAssignment('note=a=b'), { key: 'note', value: 'a=b' });
    });
    it('treats key= as removal', () =>
      assert.deepEqual(parseSettingAssignment('plan='), { key: 'plan', value: undefined }));
    it('rejects bad keys, reserved keys and NUL values', () => {
      assert.throws(() => parseSettingAssignment('=x'), /key=value/);
      assert.throws(() => parseSettingAssignment('bad key=x'), /setting key/);
      assert.throws(() => parseSettingAssignment('__proto__=x'), /setting key/);
      assert.throws(() => parseSettingAssignment('maintenance=on'), /--maintenance/);
      assert.throws(() => parseSettingAssignment('a=b\u0000'), /NUL/);
    });
  });

  it('parses durations', () => {
    assert.equal(parseDurationSeconds('30d', '--max-age'), 30 * 86400);
    assert.equal(parseDurationSeconds('90', '--max-age'), 90);
    assert.throws(() => parseDurationSeconds('30 days', '--max-age'), /--max-age/);
  });
});
