// The trace page under a witness policy from configuration: a trace whose
// checkpoint lacks the required cosignatures is not shown as verified, and
// the page names the witnesses that are missing.
import { page, reset, st, until } from '../env';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { canonical } from '../../miniprogram/lib/ledger';
import { T } from '../../miniprogram/lib/strings';

const H = (...b: Buffer[]) => createHash('sha256').update(Buffer.concat(b)).digest();

function key(name: string, type: number): { key: string; kh: Buffer; priv: KeyObject } {
  const kp = generateKeyPairSync('ed25519');
  const raw = Buffer.concat([Buffer.from([type]), kp.publicKey.export({ format: 'der', type: 'spki' }).subarray(12)]);
  const kh = H(Buffer.from(name + '\n'), raw).subarray(0, 4);
  return { key: `${name}+${kh.toString('hex')}+${raw.toString('base64')}`, kh, priv: kp.privateKey };
}

const LOG = 'onebook.test/ledger';
const log = key(LOG, 1);
const witnesses = ['w1.test/w', 'w2.test/w', 'w3.test/w'].map((n) => ({ name: n, ...key(n, 4) }));

// A one-event trace: the tree of size 1 has the leaf as its root.
function traceJSON(cosigners: number) {
  const event = { id: 'e0', type: 'donation.pledged', payload: { quantity: 5 } };
  const leaf = H(Buffer.from([0]), Buffer.from(canonical(event)));
  const text = `${LOG}\n1\n${leaf.toString('base64')}\n`;
  let note = `${text}\n\u2014 ${LOG} ${Buffer.concat([log.kh, sign(null, Buffer.from(text), log.priv)]).toString('base64')}\n`;
  for (const w of witnesses.slice(0, cosigners)) {
    const ts = Buffer.from([0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00]); // 1700000000
    const sig = sign(null, Buffer.from(`cosignature/v1\ntime 1700000000\n${text}`), w.priv);
    note += `\u2014 ${w.name} ${Buffer.concat([w.kh, ts, sig]).toString('base64')}\n`;
  }
  return { checkpoint: note, tree_size: 1, status: 'pledged', steps: [{ index: 0, type: event.type, time: '', event, leaf_hash: leaf.toString('base64'), proof: [] }] };
}

for (const tc of [
  { name: 'two of three cosigned, two required', cosigners: 2, quorum: 2, verified: 'ok', missing: '' },
  { name: 'two of three cosigned, three required', cosigners: 2, quorum: 3, verified: 'bad', missing: T.traceWitnesses.replace('{need}', '3').replace('{have}', '2').replace('{missing}', 'w3.test/w') },
  { name: 'none cosigned, one required', cosigners: 0, quorum: 1, verified: 'bad', missing: T.traceWitnesses.replace('{need}', '1').replace('{have}', '0').replace('{missing}', 'w1.test/w、w2.test/w、w3.test/w') },
  { name: 'no policy', cosigners: 0, quorum: 0, verified: 'ok', missing: '' },
]) {
  test(`trace: ${tc.name}`, async () => {
    reset();
    st.storage.set('onebook.config', JSON.stringify({ verifierKey: log.key, witnesses: witnesses.map((w) => w.key), witnessQuorum: tc.quorum }));
    st.handler = () => ({ statusCode: 200, data: JSON.stringify(traceJSON(tc.cosigners)), header: { 'Content-Type': 'application/json' } });
    const comp = page('trace');
    await (comp.instance.onLoad as (o: object) => Promise<void>)({ donation: 'd1' });
    await until(() => comp.instance.data.verified !== '');
    assert.equal(comp.instance.data.verified, tc.verified, String(comp.instance.data.error));
    assert.equal(comp.instance.data.witnessesMissing, tc.missing);
    const shown = comp.querySelector('#witnesses');
    assert.equal(shown ? shown.dom.textContent : '', tc.missing);
  });
}
