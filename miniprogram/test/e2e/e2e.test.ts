// End to end: the mini-program's own pages and API client, on the fake wx,
// against a real backend in development mode with the demo data
// (go run ./backend --demo on loopback; the Go test
// ops/miniprogram_test.go starts it and passes its URL in ONEBOOK_E2E_URL).
// A resident signs in, registers, declares and shows a pass; a gate
// operator scans it online, then offline with the network cut, then
// uploads the queue (and a retried upload counts nothing twice); a donation
// trace is verified on the "phone"; the resident pledges and erases their
// data. Every request sent is then checked against the served OpenAPI
// document.
import { page, reset, st, until } from '../env';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { call, Session, session, setSession, signIn } from '../../miniprogram/lib/api';
import { setConfig } from '../../miniprogram/lib/config';
import { queued, upload } from '../../miniprogram/lib/scanner';
import { checkRequest, Doc } from '../openapi';

const BASE = process.env.ONEBOOK_E2E_URL || '';

type Comp = ReturnType<typeof page>;
function input(c: Comp, sel: string, value: string) {
  const el = c.querySelector(sel);
  assert.ok(el, sel);
  el!.dispatchEvent('input', { detail: { value } });
}
function tap(c: Comp, sel: string, detail?: unknown) {
  const el = c.querySelector(sel);
  assert.ok(el, sel);
  el!.dispatchEvent('tap', detail === undefined ? undefined : { detail });
}
const load = (c: Comp, o: object = {}) => (c.instance.onLoad as (o: object) => Promise<void>)(o);

// An ID number of a person born on 1990-01-01 in Chaoyang, with its
// ISO 7064 MOD 11-2 check character.
function idNumber(seq: number): string {
  const body = `11010519900101${String(seq % 1000).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body[i]) * w[i];
  return body + '10X98765432'[sum % 11];
}

test('resident, scanner and donations against the demo backend', { timeout: 120000 }, async () => {
  assert.ok(BASE, 'ONEBOOK_E2E_URL names the backend (run through go run ./ops test)');
  reset();
  setConfig({ backend: BASE });
  // The verifier key comes out of band in production; here from the backend.
  const key = await call<string>('verifierKey', { text: true });
  setConfig({ verifierKey: String(key.data).trim() });

  // Resident: sign in on the home page.
  st.loginCode = `e2e-resident-${Date.now()}`;
  const home = page('index');
  load(home);
  tap(home, '#signin');
  await until(() => home.instance.data.signedIn === true);
  assert.equal(session()!.role, 'resident');

  // Register a household of one, phone through getPhoneNumber.
  const reg = page('register');
  await load(reg);
  input(reg, '#community', '110105001001');
  input(reg, '#building', '7');
  input(reg, '#unit', '2-301');
  input(reg, '#name-0', '测试居民');
  input(reg, '#id-0', idNumber(Date.now()));
  reg.querySelector('#phone-btn-0')!.dispatchEvent('getphonenumber', { detail: { code: 'phone:13800001111' } });
  tap(reg, '#submit');
  await until(() => !!reg.querySelector('#done') || !!reg.instance.data.formError, 15000);
  assert.ok(reg.querySelector('#done'), `registered: ${JSON.stringify(reg.instance.data.formError)} ${JSON.stringify(reg.instance.data.members)}`);
  const resident = session() as Session;
  assert.equal(resident.registered, true);

  // Declare.
  const dec = page('declare');
  await load(dec);
  input(dec, '#temperature', '36.6');
  tap(dec, '#submit');
  await until(() => dec.instance.data.status !== '' || dec.instance.data.formError !== '', 15000);
  assert.equal(dec.instance.data.status, 'green', String(dec.instance.data.formError));

  // Show the pass.
  const pass = page('pass');
  await load(pass);
  await until(() => pass.instance.data.modules === 49);
  assert.equal(pass.instance.data.state, 'ok');
  const token = String(pass.instance.data.token);
  assert.match(token, /^OB1\.[A-Za-z0-9_-]{132}$/);
  (pass.instance.onUnload as () => void)();

  // A property manager registers a gate; a gate operator of the community scans.
  st.loginCode = 'demo-pm-0';
  await signIn();
  const gate = await call<{ id: string }>('registerGate', { body: { community: '110105001001', name: '测试门' } });
  st.loginCode = 'demo-op-0';
  await signIn();
  assert.equal(session()!.role, 'gate_operator');

  const scan = page('scanner');
  await load(scan);
  input(scan, '#gate', gate.data.id);
  st.nextScan = token;
  tap(scan, '#scan');
  await until(() => scan.instance.data.verdict !== '' || scan.instance.data.error !== '', 15000);
  assert.equal(scan.instance.data.verdict, 'allow', String(scan.instance.data.error));

  // Network cut: verdicts on the phone, scans queued.
  st.online = false;
  const sentBefore = st.sent.length;
  st.nextScan = token;
  tap(scan, '#dir-out');
  tap(scan, '#scan');
  await until(() => scan.instance.data.queue === 1);
  assert.equal(scan.instance.data.verdict, 'queued-allow', String(scan.instance.data.why));
  const forged = token.slice(0, 100) + (token[100] === 'A' ? 'B' : 'A') + token.slice(101);
  st.nextScan = forged;
  tap(scan, '#scan');
  await until(() => scan.instance.data.queue === 2);
  assert.equal(scan.instance.data.verdict, 'queued-deny');
  assert.equal(st.sent.length, sentBefore, 'nothing left the phone');
  const offline = queued();

  // Network back: the queue goes up, each scan answered once.
  st.online = true;
  tap(scan, '#upload');
  await until(() => scan.instance.data.queue === 0, 15000);
  const batches = st.sent.filter((s) => s.path === '/scans/batch');
  assert.equal(batches.length, 1);
  // A retried upload (say the answer was lost) records nothing twice.
  wx.setStorageSync('onebook.scan.queue', offline);
  const again = await upload();
  assert.equal(again.left, 0);
  assert.deepEqual(again.results.map((r) => r.decision), ['duplicate', 'duplicate']);

  // Donations: the public needs and a trace verified on the phone.
  setSession(null);
  const needs = page('needs');
  await load(needs);
  const donations = needs.instance.data.donations as { id: string }[];
  assert.ok(donations.length > 0, 'the demo has donations');
  for (const d of donations) {
    const tr = page('trace');
    await load(tr, { donation: d.id });
    assert.equal(tr.instance.data.verified, 'ok', `trace of ${d.id}: ${JSON.stringify(tr.instance.data.steps)} ${tr.instance.data.error}`);
    assert.ok((tr.instance.data.steps as unknown[]).length >= 1);
  }
  setConfig({ verifierKey: 'onebook.local/ledger+00000000+AeoxoVLZrU4Oj+ryx0DYbffyjJNHVcY/9PtfOZHPVtlY' });
  const bad = page('trace');
  await load(bad, { donation: donations[0].id });
  assert.equal(bad.instance.data.verified, 'bad', 'a wrong verifier key fails the trace');
  setConfig({ verifierKey: String(key.data).trim() });

  // The resident pledges to the first need.
  setSession(resident);
  const needs2 = page('needs');
  await load(needs2);
  const need = (needs2.instance.data.needs as { id: string }[])[0];
  assert.ok(need);
  tap(needs2, '#need-0');
  await until(() => !!needs2.querySelector('#quantity'));
  input(needs2, '#quantity', '20');
  input(needs2, '#name', '测试居民');
  tap(needs2, '#pledge');
  await until(() => !!needs2.querySelector('#pledged') || needs2.instance.data.error !== '', 15000);
  assert.ok(needs2.querySelector('#pledged'), String(needs2.instance.data.error));

  // Self check-in at the gate's code (scene = gate id).
  const ci = page('checkin');
  await load(ci, { scene: encodeURIComponent(gate.data.id) });
  assert.equal(ci.instance.data.gate, gate.data.id);
  tap(ci, '#checkin');
  await until(() => ci.instance.data.result !== '' || ci.instance.data.error !== '', 15000);
  assert.equal(ci.instance.data.result, 'allow', String(ci.instance.data.why) + String(ci.instance.data.error));

  // Invite a visitor.
  const vis = page('visits');
  await load(vis);
  input(vis, '#name', '测试访客');
  input(vis, '#id_number', idNumber(Date.now() + 1));
  input(vis, '#phone', '13900002222');
  tap(vis, '#submit');
  await until(() => !!vis.querySelector('#done') || vis.instance.data.formError !== '', 15000);
  assert.equal(vis.instance.data.done, '已同意', String(vis.instance.data.formError));
  await until(() => (vis.instance.data.visits as unknown[]).length === 1, 15000); // the page reloads the list

  // A visitor asks, naming the resident by phone; the resident approves.
  st.loginCode = `e2e-visitor-${Date.now()}`;
  await signIn();
  const ask = page('visits');
  await load(ask, { mode: 'ask' });
  input(ask, '#name', '来访者');
  input(ask, '#id_number', idNumber(Date.now() + 2));
  input(ask, '#phone', '13900003333');
  input(ask, '#host_phone', '13800001111');
  tap(ask, '#submit');
  await until(() => !!ask.querySelector('#done') || ask.instance.data.formError !== '' || Object.values(ask.instance.data.errors as object).some(Boolean), 15000);
  assert.equal(ask.instance.data.done, '待审核', `${ask.instance.data.formError} ${JSON.stringify(ask.instance.data.errors)}`);
  setSession(resident);
  const host = page('visits');
  await load(host);
  const list = host.instance.data.visits as { id: string; status: string; requested_by: string }[];
  const pending = list.findIndex((v) => v.status === 'pending' && v.requested_by === 'visitor');
  assert.ok(pending >= 0, JSON.stringify(list));
  const asked = list[pending].id;
  tap(host, `#approve-${pending}`);
  await until(() => (host.instance.data.visits as { id: string; status: string }[]).some((v) => v.id === asked && v.status === 'approved'), 15000);

  // The resident hands the pledged masks to the hospital (set-up through
  // the API: the mini-program has no dispatch page); the hospital's member
  // confirms the hop on the receipt page with a photo hashed on the phone,
  // then records consumption.
  const donation = String(needs2.instance.data.pledged);
  assert.ok(donation);
  const nd = (needs2.instance.data.needs as { id: string; hospital: string; line: { item: string; spec: string } }[])[0];
  const hop = await fetch(`${BASE}/donations/${donation}/hops`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + resident.token },
    body: JSON.stringify({ to: { org: nd.hospital }, lots: [{ item: nd.line.item, spec: nd.line.spec, quantity: 20, batch: 'E2E-1' }], via: 'e2e' }),
  });
  assert.ok(hop.status < 300, `dispatch: ${hop.status} ${await hop.text()}`);
  st.loginCode = 'demo-member-hospital-0';
  await signIn();
  const rc = page('receipt');
  await load(rc, { donation, hop: '1', item: nd.line.item, spec: nd.line.spec });
  const photo = new Uint8Array(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff));
  st.files.set('wxfile://tmp/receipt.jpg', photo);
  tap(rc, '#photo');
  await until(() => rc.instance.data.photoHash !== '');
  assert.equal(rc.instance.data.photoHash, createHash('sha256').update(photo).digest('hex'));
  input(rc, '#quantity', '20');
  input(rc, '#batch', 'E2E-1');
  tap(rc, '#receive');
  await until(() => rc.instance.data.done !== '' || rc.instance.data.error !== '' || Object.values(rc.instance.data.errors as object).some(Boolean), 15000);
  assert.equal(rc.instance.data.done, '收货已确认', JSON.stringify({ ...rc.instance.data, T: undefined }));
  input(rc, '#consume', '5');
  input(rc, '#unit', '发热门诊');
  tap(rc, '#consume-submit');
  await until(() => rc.instance.data.done === '消耗已登记' || rc.instance.data.error !== '', 15000);
  assert.equal(rc.instance.data.done, '消耗已登记', String(rc.instance.data.error));
  // The receipt is in the trace once the sealer has signed a checkpoint
  // that covers it (every 50 ms here): ask again until then.
  let traced = page('trace');
  for (let i = 0; i < 50; i++) {
    traced = page('trace');
    await load(traced, { donation });
    if (traced.instance.data.verified === 'ok' && (traced.instance.data.steps as { type: string }[]).some((x) => x.type === 'donation.received')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(traced.instance.data.verified, 'ok', String(traced.instance.data.error));
  assert.ok((traced.instance.data.steps as { type: string }[]).some((x) => x.type === 'donation.received'));
  setSession(resident);

  // My data, then erasure.
  const mine = page('mydata');
  await load(mine);
  assert.ok(mine.querySelector('#household'));
  tap(mine, '#erase');
  await until(() => mine.instance.data.erased === true, 15000);
  assert.equal(session(), null);

  // Every request the pages and the client sent is a documented operation
  // with a matching body, by the document the backend serves.
  const doc = (await (await fetch(BASE + '/openapi.json')).json()) as Doc;
  const problems = st.sent.flatMap((s) => checkRequest(doc, s.method, s.path, s.body));
  assert.deepEqual(problems, []);
  assert.ok(st.sent.length > 15);
});
