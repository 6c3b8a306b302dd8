// Pages written as Component, loaded by miniprogram-simulate and driven by
// taps and inputs, against a fake wx whose wx.request answers from a
// handler here.
import { page, reset, st, until } from '../env';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Sent } from '../fakewx';
import { T } from '../../miniprogram/lib/strings';
import { gateOf } from '../../miniprogram/lib/scene';

const V = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'backend', 'passtoken', 'testdata', 'vectors.json'), 'utf8'));

function input(comp: ReturnType<typeof page>, sel: string, value: string) {
  const el = comp.querySelector(sel);
  assert.ok(el, sel);
  el!.dispatchEvent('input', { detail: { value } });
}
function tap(comp: ReturnType<typeof page>, sel: string) {
  const el = comp.querySelector(sel);
  assert.ok(el, sel);
  el!.dispatchEvent('tap');
}
const json = (statusCode: number, data: unknown) => ({ statusCode, data: JSON.stringify(data), header: { 'Content-Type': 'application/json' } });

test('register: a wrong check digit is shown on its field and nothing is sent', async () => {
  reset();
  st.storage.set('onebook.session', JSON.stringify({ token: 't', role: 'resident', subject: 'r1', expires_at: '' }));
  st.handler = () => json(500, {});
  const comp = page('register');
  input(comp, '#community', '110105001001');
  input(comp, '#building', '3');
  input(comp, '#name-0', '王伟');
  input(comp, '#id-0', '110105194912310021');
  tap(comp, '#submit');
  await until(() => !!comp.querySelector('#id-err-0'));
  assert.equal(comp.querySelector('#id-err-0')!.dom.textContent, T.idProblems.check);
  assert.equal(st.sent.length, 0);
});

test('register: the API error field lands on the member it names; success sends the documented body', async () => {
  reset();
  st.storage.set('onebook.session', JSON.stringify({ token: 't', role: 'resident', subject: 'r1', expires_at: '' }));
  let answer = json(400, { error: { code: 'invalid', field: 'members[1].id_number', message: 'x' } });
  st.handler = () => answer;
  const comp = page('register');
  input(comp, '#community', '110105001001');
  input(comp, '#building', '3');
  input(comp, '#name-0', '王伟');
  input(comp, '#id-0', '11010519491231002x');
  tap(comp, '#add');
  await until(() => !!comp.querySelector('#name-1'));
  input(comp, '#name-1', '王芳');
  input(comp, '#id-1', '11010519491231002X');
  tap(comp, '#submit');
  await until(() => !!comp.querySelector('#id-err-1'));
  assert.equal(comp.querySelector('#id-err-0'), undefined);
  assert.equal(st.sent.length, 1);
  const sent = st.sent[0] as Sent;
  assert.equal(sent.method, 'PUT');
  assert.equal(sent.path, '/me/household');
  assert.equal(sent.headers.Authorization, 'Bearer t');
  assert.ok(sent.headers['Idempotency-Key']);
  assert.deepEqual(sent.body, { community: '110105001001', building: '3', members: [
    { name: '王伟', id_number: '11010519491231002X', relation: 'self' },
    { name: '王芳', id_number: '11010519491231002X', relation: 'child' },
  ] });
  answer = json(200, { household: { members: [] }, session: { token: 't2', role: 'resident', subject: 'r1', registered: true, expires_at: '' } });
  tap(comp, '#submit');
  await until(() => !!comp.querySelector('#done'));
  assert.equal(JSON.parse(st.storage.get('onebook.session')!).token, 't2', 'the renewed session is kept');
});

test('pass: the QR is drawn, kept, shown offline, and dropped when the status turns red', async () => {
  reset();
  st.storage.set('onebook.session', JSON.stringify({ token: 't', role: 'resident', subject: 'r1', expires_at: '' }));
  const notAfter = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  let reply = json(200, { pass_id: 'p', token: V.tokens[0].token, not_after: notAfter, status: 'green' });
  st.handler = (r) => (r.path === '/me/passes/m1' ? reply : json(404, {}));
  let comp = page('pass');
  await (comp.instance.onLoad as (o: object) => Promise<void>)({ person: 'm1' });
  await until(() => comp.instance.data.modules === 49);
  assert.equal(comp.instance.data.state, 'ok');
  assert.ok(st.fills > 100, 'modules painted on the canvas');
  (comp.instance.onUnload as () => void)();

  st.online = false;
  comp = page('pass');
  await (comp.instance.onLoad as (o: object) => Promise<void>)({ person: 'm1' });
  assert.equal(comp.instance.data.state, 'offline');
  assert.equal(comp.instance.data.token, V.tokens[0].token);
  assert.ok(comp.querySelector('#offline'));
  (comp.instance.onUnload as () => void)();

  st.online = true;
  reply = json(403, { error: { code: 'forbidden', message: 'health status is red: no pass; contact your community' } });
  comp = page('pass');
  await (comp.instance.onLoad as (o: object) => Promise<void>)({ person: 'm1' });
  assert.equal(comp.instance.data.state, 'red');
  assert.ok(comp.querySelector('#red'));
  assert.equal(st.storage.has('onebook.pass.m1'), false, 'no red pass kept for offline use');
  (comp.instance.onUnload as () => void)();
});

test('scanner: online allow, offline verdicts from the cached keys and list, queued and uploaded once', async () => {
  reset();
  st.storage.set('onebook.session', JSON.stringify({ token: 't', role: 'gate_operator', subject: 's1', scope: '110105001001', expires_at: '' }));
  const batches: unknown[] = [];
  st.handler = (r) => {
    if (r.path === '/passes/keys') return json(200, JSON.parse(V.key_set));
    if (r.path === '/passes/revocations') return { statusCode: 200, data: V.revocation_list, header: {} };
    if (r.path === '/scans') return json(200, { scan: { scan_id: (r.body as { scan_id: string }).scan_id, decision: 'allow' } });
    if (r.path === '/scans/batch') {
      const scans = (r.body as { scans: { scan_id: string }[] }).scans;
      batches.push(scans);
      return json(200, { results: scans.map((s) => ({ scan_id: s.scan_id, decision: 'allow' })) });
    }
    return json(404, {});
  };
  const comp = page('scanner');
  await (comp.instance.onLoad as () => Promise<void>)();
  input(comp, '#gate', 'g-1');
  st.nextScan = V.tokens[0].token;
  tap(comp, '#scan');
  await until(() => comp.instance.data.verdict === 'allow');
  assert.equal(comp.querySelector('#verdict .big')?.dom.textContent, T.allow);

  // Network cut. The vectors' tokens are valid on 2026-02-01 only, so the
  // offline verdicts are expired (not forged) for the good token, forged for
  // the unknown key's, which shows the check ran on the phone.
  st.online = false;
  const sentBefore = st.sent.length;
  st.nextScan = V.unknown_key_token;
  tap(comp, '#scan');
  await until(() => comp.instance.data.verdict === 'queued-deny');
  assert.equal(comp.instance.data.why, T.reasons.forged);
  st.nextScan = V.tokens[0].token;
  tap(comp, '#scan');
  await until(() => comp.instance.data.queue === 2);
  assert.equal(comp.instance.data.why, T.reasons.expired);
  assert.equal(st.sent.length, sentBefore, 'nothing reached the network');
  const queued = JSON.parse(st.storage.get('onebook.scan.queue')!);
  assert.equal(queued.length, 2);
  assert.ok(queued.every((q: { scan_id: string; scanned_at: string }) => /^s/.test(q.scan_id) && !Number.isNaN(Date.parse(q.scanned_at))));

  st.online = true;
  tap(comp, '#upload');
  await until(() => comp.instance.data.queue === 0);
  assert.equal(batches.length, 1);
  assert.deepEqual((batches[0] as { scan_id: string }[]).map((s) => s.scan_id), queued.map((q: { scan_id: string }) => q.scan_id));
  tap(comp, '#upload');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(batches.length, 1, 'an empty queue sends nothing');
});

test('scanner upload: a failed batch keeps its scans; more than 500 go in batches of 500', async () => {
  reset();
  st.storage.set('onebook.session', JSON.stringify({ token: 't', role: 'gate_operator', subject: 's1', expires_at: '' }));
  const q = Array.from({ length: 1201 }, (_, i) => ({ scan_id: `s${i}`, token: 'OB1.x', gate: 'g', direction: 'in', scanned_at: '2026-12-05T10:00:00.000Z' }));
  st.storage.set('onebook.scan.queue', JSON.stringify(q));
  const sizes: number[] = [];
  let fail = true;
  st.handler = (r) => {
    const scans = (r.body as { scans: { scan_id: string }[] }).scans;
    sizes.push(scans.length);
    if (fail) return json(503, { error: { code: 'unavailable', message: '' } });
    return json(200, { results: scans.map((s) => ({ scan_id: s.scan_id, decision: 'duplicate' })) });
  };
  const { upload } = await import('../../miniprogram/lib/scanner');
  let r = await upload();
  assert.equal(r.left, 1201);
  fail = false;
  r = await upload();
  assert.equal(r.left, 0);
  assert.deepEqual(sizes, [500, 500, 500, 201]);
});

test('check-in: the scene of a gate code is the gate', () => {
  assert.equal(gateOf({ scene: encodeURIComponent('g-0123456789abcdef') }), 'g-0123456789abcdef');
  assert.equal(gateOf({ scene: encodeURIComponent('g=110101001001-1') }), '110101001001-1');
  assert.equal(gateOf({ gate: 'g-1' }), 'g-1');
});

test('scanner: an online denial says why in words; a replayed scan id says duplicate', async () => {
  reset();
  st.storage.set('onebook.session', JSON.stringify({ token: 't', role: 'gate_operator', subject: 's1', expires_at: '' }));
  let reply = json(403, { scan: { scan_id: 'x', decision: 'deny', reason: 'red_status' }, error: { code: 'forbidden', field: 'token', message: 'pass denied: red_status' } });
  st.handler = (r) => (r.path === '/scans' ? reply : json(503, {}));
  const comp = page('scanner');
  await (comp.instance.onLoad as () => Promise<void>)();
  st.nextScan = V.tokens[0].token;
  tap(comp, '#scan');
  await until(() => comp.instance.data.verdict === 'deny');
  assert.equal(comp.querySelector('#verdict .why')?.dom.textContent, T.reasons.red_status);
  assert.equal(comp.instance.data.queue, 0, 'an answered scan is not queued');
  reply = json(409, { scan: { scan_id: 'x', decision: 'duplicate' }, error: { code: 'duplicate', field: 'scan_id', message: '' } });
  tap(comp, '#scan');
  await until(() => comp.instance.data.big === T.duplicate);
});

test('pass: the next token is fetched 10 minutes before this one expires', async () => {
  const { refreshDelay } = await import('../../miniprogram/lib/passstore');
  const now = Date.parse('2026-12-05T10:00:00Z');
  assert.equal(refreshDelay('2026-12-06T10:00:00Z', now), 24 * 3600 * 1000 - 10 * 60 * 1000);
  assert.equal(refreshDelay('2026-12-05T10:05:00Z', now), 5000, 'never sooner than 5 s');
});
