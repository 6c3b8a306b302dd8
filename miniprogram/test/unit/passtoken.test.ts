// The offline verifier against backend/passtoken's known-answer vectors
// (testdata/vectors.json, checked on the Go side by TestVectorsFile), and
// against every single-byte tampering of a token and of a revocation list.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkToken, keyId, parse, parseKeySet, PassKey, verifyList } from '../../miniprogram/lib/passtoken';
import { fromBase64url, hex, toBase64url } from '../../miniprogram/lib/bytes';

interface Vectors {
  public_key_hex: string; kid: string; key_set: string; key_not_after: number;
  tokens: { name: string; token: string; token_id?: string; pass_id?: string; visitor: boolean; community: string; not_before: number; not_after: number }[];
  unknown_key_token: string; revocation_list: string;
  list: { seq: number; issued: number; not_after: number; tokens: string[] };
}

// The compiled test runs from build/test/unit; the vectors live in the Go package.
const V: Vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'backend', 'passtoken', 'testdata', 'vectors.json'), 'utf8'));
const keys = parseKeySet(JSON.parse(V.key_set)) as PassKey[];
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

test('key set and key id are the Go ones', () => {
  assert.ok(keys, 'key set parses');
  assert.equal(keys.length, 1);
  assert.equal(hex(keys[0].publicKey), V.public_key_hex);
  assert.equal(keyId(keys[0].publicKey), V.kid);
  assert.equal(keys[0].notAfter, V.key_not_after);
});

test('key sets that Go refuses are refused', () => {
  const ks = JSON.parse(V.key_set);
  const bad = [
    { keys: [{ ...ks.keys[0], kid: '00000000' }] },
    { keys: [{ ...ks.keys[0], alg: 'EdDSA' }] },
    { keys: [{ ...ks.keys[0], use: 'sig' }] },
    { keys: [ks.keys[0], ks.keys[0]] },
    { keys: [], x: 1 },
    { keys: [{ ...ks.keys[0], public_key: ks.keys[0].public_key.slice(1) }] },
  ];
  for (const b of bad) assert.equal(parseKeySet(b), null, JSON.stringify(b));
});

test('every known-answer token verifies with its claims', () => {
  for (const t of V.tokens) {
    assert.equal(t.token.length, 136);
    const v = checkToken(t.token, keys, null, t.not_before);
    assert.ok(v.ok, t.name);
    if (!v.ok) continue;
    assert.deepEqual(
      { tokenId: v.claims.tokenId, passId: v.claims.passId, visitor: v.claims.visitor, community: v.claims.community, notBefore: v.claims.notBefore, notAfter: v.claims.notAfter },
      { tokenId: t.token_id ?? '', passId: t.pass_id ?? '', visitor: t.visitor, community: t.community, notBefore: t.not_before, notAfter: t.not_after },
    );
  }
});

test('denials in passtoken.Verify order', () => {
  const t = V.tokens[0];
  assert.deepEqual(checkToken('hello', keys, null, t.not_before), { ok: false, reason: 'malformed' });
  assert.equal((checkToken(V.unknown_key_token, keys, null, t.not_before) as { reason: string }).reason, 'forged');
  assert.equal((checkToken(t.token, keys, null, t.not_before - 1) as { reason: string }).reason, 'not_yet_valid');
  assert.equal((checkToken(t.token, keys, null, t.not_after) as { reason: string }).reason, 'expired');
  assert.ok(checkToken(t.token, keys, null, t.not_after - 1).ok);
  const retired = [{ ...keys[0], notAfter: t.not_before + 10 }];
  assert.equal((checkToken(t.token, retired, null, t.not_before + 10) as { reason: string }).reason, 'expired');
  assert.equal((checkToken(t.token, keys, new Set([t.token_id as string]), t.not_before) as { reason: string }).reason, 'revoked');
  assert.ok(checkToken(t.token, keys, new Set(), t.not_before).ok, 'a list without it');
  assert.equal((checkToken(t.token, [], null, t.not_before) as { reason: string }).reason, 'forged');
});

test('every tampered character of a token is refused', () => {
  for (const t of V.tokens) {
    for (let i = 0; i < t.token.length; i++) {
      for (const c of [B64URL[(B64URL.indexOf(t.token[i]) + 1) % 64], '=', '.', 'é']) {
        if (c === t.token[i]) continue;
        const bad = t.token.slice(0, i) + c + t.token.slice(i + 1);
        assert.equal(checkToken(bad, keys, null, t.not_before).ok, false, `${t.name}: char ${i} → ${c}`);
      }
    }
    assert.equal(checkToken(t.token + 'A', keys, null, t.not_before).ok, false);
    assert.equal(checkToken(t.token.slice(0, -1), keys, null, t.not_before).ok, false);
  }
});

test('a flipped bit in every byte of a token is refused', () => {
  // One bit a byte (a different one each byte) keeps the run short: each
  // check of a signature costs milliseconds in tweetnacl.
  for (const t of V.tokens) {
    const raw = fromBase64url(t.token.slice(4)) as Uint8Array;
    assert.equal(raw.length, 99);
    for (let i = 0; i < raw.length; i++) {
      for (const bit of [i % 8]) {
        const b = raw.slice();
        b[i] ^= 1 << bit;
        const bad = t.token.slice(0, 4) + toBase64url(b);
        const v = checkToken(bad, keys, null, t.not_before);
        assert.equal(v.ok, false, `${t.name}: byte ${i} bit ${bit}`);
        assert.ok(!v.ok && (v.reason === 'malformed' || v.reason === 'forged'), `${t.name}: byte ${i} bit ${bit}: ${JSON.stringify(v)}`);
      }
    }
  }
});

test('a signature with S + L (same value mod L) is refused, as crypto/ed25519 does', () => {
  const t = V.tokens[0];
  const raw = fromBase64url(t.token.slice(4)) as Uint8Array;
  const L = [0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
  const b = raw.slice();
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const s = b[35 + 32 + i] + L[i] + carry;
    b[35 + 32 + i] = s & 0xff;
    carry = s >> 8;
  }
  assert.equal(carry, 0, 'S + L fits 256 bits');
  assert.equal(checkToken(t.token.slice(0, 4) + toBase64url(b), keys, null, t.not_before).ok, false);
});

test('parse reads the structure only', () => {
  const p = parse(V.unknown_key_token);
  assert.ok(p);
  assert.equal(p!.claims.tokenId, V.tokens[0].token_id);
  assert.equal(p!.claims.passId, '');
});

test('format 1 (the pass id, no longer issued): admitted without a list, outdated against one, as passtoken.Verify', () => {
  const t = V.tokens.find((x) => x.name === 'format1');
  assert.ok(t && t.token.startsWith('OB1.') && t.pass_id && !t.token_id);
  assert.ok(checkToken(t!.token, keys, null, t!.not_before).ok);
  const v = checkToken(t!.token, keys, new Set(), t!.not_before);
  assert.deepEqual(!v.ok && v.reason, 'outdated');
  assert.deepEqual(!checkToken(t!.token, keys, new Set(), t!.not_after).ok && (checkToken(t!.token, keys, new Set(), t!.not_after) as { reason: string }).reason, 'expired');
  // A format-2 token's bytes behind the format-1 prefix are malformed.
  const t2 = V.tokens[0];
  assert.equal((checkToken('OB1.' + t2.token.slice(4), keys, null, t2.not_before) as { reason: string }).reason, 'malformed');
});

test('the known-answer revocation list verifies', () => {
  const l = verifyList(V.revocation_list, keys);
  assert.deepEqual(l, { seq: V.list.seq, issued: V.list.issued, notAfter: V.list.not_after, tokens: V.list.tokens });
});

test('every tampered byte of a revocation list is refused', () => {
  const s = V.revocation_list;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] === 'a' ? 'b' : s[i] === '0' ? '1' : 'a';
    const bad = s.slice(0, i) + c + s.slice(i + 1);
    assert.equal(verifyList(bad, keys), null, `byte ${i}: ${s[i]} → ${c}`);
  }
  assert.equal(verifyList(s.replace('{"kid"', '{ "kid"'), keys), null, 'not the served bytes');
  assert.equal(verifyList(s, [{ ...keys[0], notAfter: V.list.not_after - 1 }]), null, 'valid beyond its key');
});
