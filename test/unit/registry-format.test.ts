import assert from 'node:assert/strict';
import { laravelTime, phpJson } from '../../src/lib/registry/stancl.js';

describe('stancl registry format', () => {
  it('encodes JSON as PHP json_encode does by default: slashes and non-ASCII escaped', () => {
    assert.equal(
      phpJson({ tenancy_db_name: 'tenant/x', name: 'Ünï €' }),
      '{"tenancy_db_name":"tenant\\/x","name":"\\u00dcn\\u00ef \\u20ac"}',
    );
    // Characters outside the BMP become a surrogate pair, as in PHP.
    assert.equal(phpJson('😀'), '"\\ud83d\\ude00"');
    assert.equal(phpJson({ a: [1, true, null] }), '{"a":[1,true,null]}');
  });

  it('writes timestamps as Laravel does: Y-m-d H:i:s in UTC', () => {
    assert.equal(laravelTime(new Date('2024-03-05T07:08:09.123Z')), '2024-03-05 07:08:09');
  });
});
