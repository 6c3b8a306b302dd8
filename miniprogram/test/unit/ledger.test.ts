// The trace check against a Merkle tree and a signed note made here with
// Node's crypto (an independent RFC 6962 / C2SP signed-note implementation):
// a good trace verifies; a changed event, proof, root or key does not.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { canonical, checkTrace, parseVerifierKey, rootFromInclusion, TraceStep } from '../../miniprogram/lib/ledger';

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
