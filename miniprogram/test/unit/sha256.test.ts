import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sha256 } from '../../miniprogram/lib/sha256';
import { fromBase64, fromBase64url, hex, toBase64, toBase64url, utf8 } from '../../miniprogram/lib/bytes';

test('sha256 agrees with Node for every length around the block boundaries', () => {
  for (let n = 0; n < 300; n++) {
    const b = randomBytes(n);
    assert.equal(hex(sha256(new Uint8Array(b))), createHash('sha256').update(b).digest('hex'), `length ${n}`);
  }
  assert.equal(hex(sha256(utf8('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('utf8 and base64 agree with Node', () => {
  for (const s of ['', '一本账', 'a\u{1F600}b', '17.5cm×9.5cm']) assert.deepEqual(Buffer.from(utf8(s)), Buffer.from(s, 'utf8'));
  for (let n = 0; n < 40; n++) {
    const b = new Uint8Array(randomBytes(n));
    assert.equal(toBase64(b), Buffer.from(b).toString('base64'));
    assert.equal(toBase64url(b), Buffer.from(b).toString('base64url'));
    assert.deepEqual(fromBase64(toBase64(b)), b);
    assert.deepEqual(fromBase64url(toBase64url(b)), b);
  }
  assert.equal(fromBase64url('AB'), null, 'non-zero padding bits');
  assert.equal(fromBase64('AB=='), null, 'non-zero padding bits');
  assert.equal(fromBase64url('A'), null);
  assert.equal(fromBase64('QQ'), null, 'padding missing');
});
