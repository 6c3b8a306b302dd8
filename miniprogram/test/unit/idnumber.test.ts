import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkIdNumber, normalizeIdNumber } from '../../miniprogram/lib/idnumber';

test('valid GB 11643 numbers pass, each kind of mistake is named', () => {
  const today = new Date('2026-12-05T00:00:00Z');
  assert.equal(checkIdNumber('11010519491231002X', today), null);
  assert.equal(checkIdNumber('110105194912310021', today), 'check');
  assert.equal(checkIdNumber(normalizeIdNumber(' 11010519491231002x '), today), null);
  assert.equal(checkIdNumber('11010519491231002', today), 'length');
  assert.equal(checkIdNumber('1101051949123100AX', today), 'chars');
  assert.equal(checkIdNumber('110105194902300026', today), 'birth');
  assert.equal(checkIdNumber('110105203001010018', today), 'birth');
});

test('every single wrong digit is caught by the check character', () => {
  const good = '11010519491231002X';
  for (let i = 0; i < 17; i++) {
    for (let d = 0; d <= 9; d++) {
      const s = good.slice(0, i) + d + good.slice(i + 1);
      if (s === good) continue;
      assert.notEqual(checkIdNumber(s, new Date('2026-12-05T00:00:00Z')), null, s);
    }
  }
});
