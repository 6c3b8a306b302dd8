// The trace check against a Merkle tree and a signed note made here with
// Node's crypto (an independent RFC 6962 / C2SP signed-note implementation):
// a good trace verifies; a changed event, proof, root or key does not.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { canonical, checkTrace, checkWitnesses, parseVerifierKey, parseWitnessKey, rootFromInclusion, TraceStep } from '../../miniprogram/lib/ledger';

const H = (...b: Buffer[]) => createHash('sha256').update(Buffer.concat(b)).digest();
const leaf = (b: Buffer) => H(Buffer.from([0]), b);
const node = (l: Buffer, r: Buffer) => H(Buffer.from([1]), l, r);

// RFC 6962 §2.1 MTH and PATH, recursively.
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return node(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function path(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length === 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))] : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
const NAME = 'onebook.test/ledger';
const keyBytes = Buffer.concat([Buffer.from([1]), pub]);
const keyHash = H(Buffer.from(NAME + '\n'), keyBytes).subarray(0, 4);
const VKEY = `${NAME}+${keyHash.toString('hex')}+${keyBytes.toString('base64')}`;

function note(size: number, root: Buffer): string {
  const text = `${NAME}\n${size}\n${root.toString('base64')}\n`;
  const sig = sign(null, Buffer.from(text), privateKey);
  return `${text}\n\u2014 ${NAME} ${Buffer.concat([keyHash, sig]).toString('base64')}\n\u2014 witness.example/w AAAAAA==\n`;
}

function trace(n: number, picks: number[]) {
  const events = Array.from({ length: n }, (_, i) => ({ id: `e${i}`, type: 'donation.pledged', payload: { quantity: i, name: '一位热心市民', z: null, a: [1.5, true] } }));
  const leaves = events.map((e) => leaf(Buffer.from(canonical(e))));
  const root = mth(leaves);
  const steps: TraceStep[] = picks.map((i) => ({ index: i, type: 'donation.pledged', time: '', event: JSON.parse(JSON.stringify(events[i])), leaf_hash: leaves[i].toString('base64'), proof: path(i, leaves).map((p) => p.toString('base64')) }));
  return { checkpoint: note(n, root), tree_size: n, steps };
}

test('canonical is RFC 8785 for the shapes events have', () => {
  assert.equal(canonical({ b: 1, a: [true, null, 'x'], c: { é: 1, e: 2 } }), '{"a":[true,null,"x"],"b":1,"c":{"e":2,"é":1}}');
  assert.equal(canonical({ n: 1e21, f: 0.1, s: '\u2028"' }), '{"f":0.1,"n":1e+21,"s":"\u2028\\""}');
});

test('inclusion proofs of every leaf of trees of every size up to 33 verify', () => {
  for (let n = 1; n <= 33; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leaf(Buffer.from([i])));
    const root = mth(leaves);
    for (let i = 0; i < n; i++) {
      const r = rootFromInclusion(i, n, leaves[i], path(i, leaves));
      assert.ok(r && Buffer.from(r).equals(root), `size ${n} leaf ${i}`);
      if (n > 1) {
        const wrong = rootFromInclusion((i + 1) % n, n, leaves[i], path(i, leaves));
        assert.ok(!wrong || !Buffer.from(wrong).equals(root), `size ${n} leaf ${i} at another index`);
      }
    }
  }
});

test('a good trace verifies; any change does not', () => {
  const good = trace(21, [0, 7, 20]);
  const r = checkTrace(good, VKEY);
  assert.ok(r.ok && r.checkpoint && r.steps.every((s) => s.ok), JSON.stringify(r));

  const changedEvent = trace(21, [0, 7, 20]);
  (changedEvent.steps[1].event as { payload: { quantity: number } }).payload.quantity = 70;
  const r2 = checkTrace(changedEvent, VKEY);
  assert.equal(r2.ok, false);
  assert.deepEqual(r2.steps.map((s) => s.ok), [true, false, true]);

  const changedProof = trace(21, [0, 7, 20]);
  changedProof.steps[2].proof[0] = Buffer.alloc(32).toString('base64');
  assert.equal(checkTrace(changedProof, VKEY).ok, false);

  const changedNote = trace(21, [0, 7, 20]);
  changedNote.checkpoint = changedNote.checkpoint.replace('\n21\n', '\n22\n');
  assert.equal(checkTrace(changedNote, VKEY).checkpoint, false);

  const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const ob = Buffer.concat([Buffer.from([1]), other]);
  const otherKey = `${NAME}+${H(Buffer.from(NAME + '\n'), ob).subarray(0, 4).toString('hex')}+${ob.toString('base64')}`;
  assert.equal(checkTrace(good, otherKey).ok, false, 'another verifier key');
  assert.equal(checkTrace(good, '').ok, false, 'no verifier key configured');
  assert.equal(checkTrace({ ...good, tree_size: 20 }, VKEY).ok, false, 'size disagrees with the checkpoint');
  assert.equal(checkTrace({ ...good, steps: [] }, VKEY).ok, false, 'nothing to check');
});

test('verifier keys are checked against their hash', () => {
  assert.ok(parseVerifierKey(VKEY));
  // A key served by a demo backend: its base64 has '+' in it.
  assert.ok(parseVerifierKey('onebook.local/ledger+6dc91707+AeoxoVLZrU4Oj+ryx0DYbffyjJNHVcY/9PtfOZHPVtlY'));
  assert.equal(parseVerifierKey('onebook.local/ledger+6dc91707+AeoxoVLZrU4Oj+ryx0DYbffyjJNHVcY/9PtfOZHPVtlZ'), null);
  assert.equal(parseVerifierKey(VKEY.replace(/\+[0-9a-f]{8}\+/, '+00000000+')), null);
});

// Witnesses made here with Node's crypto: a C2SP cosignature/v1 line is
// base64(keyhash || 8-byte big-endian time || Ed25519 over
// "cosignature/v1\ntime <t>\n" || checkpoint text), keyhash from
// SHA-256(name || "\n" || 0x04 || key); type 0x01 is the older plain form.
function witness(name: string, type: 1 | 4) {
  const kp = generateKeyPairSync('ed25519');
  const raw = Buffer.concat([Buffer.from([type]), kp.publicKey.export({ format: 'der', type: 'spki' }).subarray(12)]);
  const kh = H(Buffer.from(name + '\n'), raw).subarray(0, 4);
  return {
    name,
    key: `${name}+${kh.toString('hex')}+${raw.toString('base64')}`,
    cosign(note: string, time = 1_700_000_000): string {
      const text = note.slice(0, note.lastIndexOf('\n\n') + 1);
      if (type === 1) return `\u2014 ${name} ${Buffer.concat([kh, sign(null, Buffer.from(text), kp.privateKey)]).toString('base64')}\n`;
      const ts = Buffer.alloc(8);
      ts.writeBigUInt64BE(globalThis.BigInt(time));
      const sig = sign(null, Buffer.from(`cosignature/v1\ntime ${time}\n${text}`), kp.privateKey);
      return `\u2014 ${name} ${Buffer.concat([kh, ts, sig]).toString('base64')}\n`;
    },
  };
}

test('a cosignature/v1 made by the Go witness (ops witness serve) verifies here', () => {
  // ops/witness's known answer: the reference witness's log "monkeys" at
  // size 5, cosigned at 1700000000 by its witness key; Go checks the same
  // line with transparency-dev/formats' verifier.
  const note = 'monkeys\n5\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n\n\u2014 monkeys 202fftzGl3LVoqjXfwCFZZXs8I+5G22+Ek2K0AOyBuSJ/8/CZawNF+6fNlTKOCd622pbzJNkkJFWuw9DbicZCkEx9AY=\n';
  const line = '\u2014 witness JLN4UQAAAABlU/EAzdQIaFuhdtosLyxaH8FAF4cMuW7yGKC9ONQDGyW0fG6Ljye7I5+Y5UpY6+JexNUH/MxRUz64S0SlJuPQUp2TCA==\n';
  const key = 'witness+24b37851+BNYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN';
  assert.equal(parseWitnessKey(key)?.type, 4);
  assert.deepEqual(checkWitnesses(note + line, { witnesses: [key], quorum: 1 }), { ok: true, cosigned: ['witness'], missing: [] });
  // Another timestamp (the signature no longer covers it), another size.
  const raw = Buffer.from(line.split(' ')[2], 'base64');
  raw[11] ^= 1;
  assert.equal(checkWitnesses(note + `\u2014 witness ${raw.toString('base64')}\n`, { witnesses: [key], quorum: 1 }).ok, false);
  assert.equal(checkWitnesses(note.replace('\n5\n', '\n6\n') + line, { witnesses: [key], quorum: 1 }).ok, false);
  // The same key as a plain signed-note key is another key.
  assert.equal(checkWitnesses(note + line, { witnesses: ['witness+f13a86db+AdYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN'], quorum: 1 }).ok, false);
});

test('the witness policy: k of n, the missing named, other lines ignored', () => {
  const [a, b, c] = [witness('a.example/w', 4), witness('b.example/w', 4), witness('c.example/w', 1)];
  const stranger = witness('d.example/w', 4);
  const good = trace(9, [2, 8]);
  const other = trace(10, [2]);
  const policy = (quorum: number) => ({ witnesses: [a.key, b.key, c.key], quorum });
  const cases: { name: string; lines: string[]; quorum: number; ok: boolean; cosigned: string[]; missing: string[] }[] = [
    { name: 'all three', lines: [a.cosign(good.checkpoint), b.cosign(good.checkpoint), c.cosign(good.checkpoint)], quorum: 3, ok: true, cosigned: ['a.example/w', 'b.example/w', 'c.example/w'], missing: [] },
    { name: 'two of three wanted', lines: [a.cosign(good.checkpoint), c.cosign(good.checkpoint)], quorum: 2, ok: true, cosigned: ['a.example/w', 'c.example/w'], missing: ['b.example/w'] },
    { name: 'two of three, three wanted', lines: [a.cosign(good.checkpoint), c.cosign(good.checkpoint)], quorum: 3, ok: false, cosigned: ['a.example/w', 'c.example/w'], missing: ['b.example/w'] },
    { name: 'a stranger does not count', lines: [stranger.cosign(good.checkpoint), a.cosign(good.checkpoint)], quorum: 2, ok: false, cosigned: ['a.example/w'], missing: ['b.example/w', 'c.example/w'] },
    { name: 'cosignatures of another checkpoint do not count', lines: [a.cosign(other.checkpoint), b.cosign(good.checkpoint), c.cosign(other.checkpoint)], quorum: 2, ok: false, cosigned: ['b.example/w'], missing: ['a.example/w', 'c.example/w'] },
    { name: 'none, none wanted', lines: [], quorum: 0, ok: true, cosigned: [], missing: ['a.example/w', 'b.example/w', 'c.example/w'] },
  ];
  for (const tc of cases) {
    const t = { ...good, checkpoint: good.checkpoint + tc.lines.join('') };
    assert.deepEqual(checkWitnesses(t.checkpoint, policy(tc.quorum)), { ok: tc.ok, cosigned: tc.cosigned, missing: tc.missing }, tc.name);
    const r = checkTrace(t, VKEY, policy(tc.quorum));
    assert.equal(r.ok, tc.ok, tc.name);
    assert.ok(r.checkpoint && r.steps.every((s) => s.ok), `${tc.name}: onebook's signature and the steps verify either way`);
  }
  assert.equal(checkWitnesses(good.checkpoint, { witnesses: ['not a key'], quorum: 1 }).missing[0], 'not a key');
  assert.equal(parseVerifierKey(a.key), null, 'a cosignature/v1 key is not a checkpoint key');
});
