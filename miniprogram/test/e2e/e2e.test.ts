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
import { T } from '../../miniprogram/lib/strings';

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
  assert.match(token, /^OB2\.[A-Za-z0-9_-]{132}$/);
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

// optionsOf reads the options a page gets from a wx.navigateTo URL.
function optionsOf(url: string): Record<string, string> {
  const out: Record<string, string> = {};
  new URL(url, 'https://x').searchParams.forEach((v, k) => { out[k] = v; });
  return out;
}

test('staff invite, a visitor through the property manager, handing a donation onward', { timeout: 180000 }, async () => {
  assert.ok(BASE, 'ONEBOOK_E2E_URL names the backend (run through go run ./ops test)');
  reset();
  setConfig({ backend: BASE });
  const key = await call<string>('verifierKey', { text: true });
  setConfig({ verifierKey: String(key.data).trim() });
  const stamp = Date.now();
  const hostPhone = '139' + String(stamp % 1e8).padStart(8, '0');

  // A host registers a household with a phone the visitor will name.
  st.loginCode = `e2e-host-${stamp}`;
  await signIn();
  const reg = page('register');
  await load(reg);
  input(reg, '#community', '110105001001');
  input(reg, '#building', '9');
  input(reg, '#name-0', '测试房主');
  input(reg, '#id-0', idNumber(stamp + 5));
  reg.querySelector('#phone-btn-0')!.dispatchEvent('getphonenumber', { detail: { code: 'phone:' + hostPhone } });
  tap(reg, '#submit');
  await until(() => !!reg.querySelector('#done') || !!reg.instance.data.formError, 15000);
  assert.ok(reg.querySelector('#done'), String(reg.instance.data.formError));
  const host = session() as Session;

  // An admin makes a property manager's account; the manager opens the
  // invite (a code whose scene is the invite) and binds their WeChat.
  st.loginCode = 'demo-admin';
  const admin = await signIn();
  assert.equal(admin.role, 'admin');
  const made = await fetch(`${BASE}/staff`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + admin.token },
    body: JSON.stringify({ role: 'property_manager', scope: '110105001001', label: 'e2e 物业' }),
  });
  assert.equal(made.status, 201, await made.clone().text());
  const invite = ((await made.json()) as { invite_code: string }).invite_code;
  setSession(null);
  st.loginCode = `e2e-pm-${stamp}`;
  const bind = page('staff');
  await load(bind, { scene: encodeURIComponent('i=' + invite) });
  tap(bind, '#bind');
  await until(() => !!bind.querySelector('#bound') || bind.instance.data.error !== '' || !!bind.querySelector('#invite-err'), 15000);
  assert.ok(bind.querySelector('#bound'), `${bind.instance.data.error} ${JSON.stringify(bind.instance.data.errors)}`);
  const pm = session() as Session;
  assert.equal(pm.role, 'property_manager');
  assert.equal(pm.scope, '110105001001');
  // The invite works once.
  st.loginCode = `e2e-pm2-${stamp}`;
  const again = page('staff');
  await load(again, { code: invite });
  tap(again, '#bind');
  await until(() => !!again.querySelector('#invite-err'), 15000);
  setSession(pm);

  // A visitor signs in, accepts the "visit decided" notice, and asks to
  // visit the host.
  setSession(null);
  st.loginCode = `e2e-guest-${stamp}`;
  await signIn();
  const visitor = session() as Session;
  const mine = page('mydata');
  await load(mine);
  await until(() => !!mine.querySelector('#subscribe-visit_decided'), 15000);
  tap(mine, '#subscribe-visit_decided');
  const notice = (c: Comp) => (c.instance.data.notices as { kind: string; answer?: string; left: number }[]).find((n) => n.kind === 'visit_decided');
  await until(() => notice(mine)?.answer === 'accept', 15000);
  assert.equal(notice(mine)!.left, 1, 'one acceptance, one message');
  const ask = page('visits');
  await load(ask, { mode: 'ask' });
  input(ask, '#name', '物业访客');
  input(ask, '#id_number', idNumber(stamp + 6));
  input(ask, '#phone', '13900004444');
  input(ask, '#host_phone', hostPhone);
  tap(ask, '#submit');
  await until(() => !!ask.querySelector('#done') || ask.instance.data.formError !== '' || Object.values(ask.instance.data.errors as object).some(Boolean), 15000);
  assert.equal(ask.instance.data.done, T.visitStatus.pending, `${ask.instance.data.formError} ${JSON.stringify(ask.instance.data.errors)}`);
  await until(() => (ask.instance.data.visits as unknown[]).length === 1, 15000);
  const visit = (ask.instance.data.visits as { id: string }[])[0].id;
  const early = page('visitpass');
  await load(early, { visit });
  assert.ok(early.querySelector('#pending'), 'no pass before the decision');

  // The property manager approves it on the pending page.
  setSession(pm);
  const pending = page('pending');
  await load(pending);
  const list = pending.instance.data.visits as { id: string }[];
  const at = list.findIndex((v) => v.id === visit);
  assert.ok(at >= 0, JSON.stringify(list));
  tap(pending, `#approve-${at}`);
  await until(() => !!pending.querySelector('#done') || pending.instance.data.error !== '', 15000);
  assert.match(String(pending.instance.data.done), new RegExp(T.visitStatus.approved), String(pending.instance.data.error));
  await until(() => !(pending.instance.data.visits as { id: string }[]).some((v) => v.id === visit), 15000);
  const gate = await call<{ id: string }>('registerGate', { body: { community: '110105001001', name: '访客门' } });

  // The notice went out against the acceptance, and used it.
  setSession(visitor);
  const after = page('mydata');
  await load(after);
  await until(() => notice(after) !== undefined, 15000);
  assert.equal(notice(after)!.left, 0);

  // The visitor shows the pass from the list of visits.
  const vs = page('visits');
  await load(vs, { mode: 'ask' });
  const vi = (vs.instance.data.visits as { id: string }[]).findIndex((v) => v.id === visit);
  await until(() => !!vs.querySelector(`#pass-${vi}`), 15000);
  tap(vs, `#pass-${vi}`);
  await until(() => st.navigated.length > 0);
  const vp = page('visitpass');
  await load(vp, optionsOf(st.navigated.pop()!));
  await until(() => vp.instance.data.modules === 49 || vp.instance.data.state === 'error', 15000);
  assert.equal(vp.instance.data.state, 'ok', String(vp.instance.data.error));
  const visitorToken = String(vp.instance.data.token);
  (vp.instance.onUnload as () => void)();

  // The gate lets them in.
  st.loginCode = 'demo-op-0';
  await signIn();
  const scan = page('scanner');
  await load(scan);
  input(scan, '#gate', gate.data.id);
  st.nextScan = visitorToken;
  tap(scan, '#scan');
  await until(() => scan.instance.data.verdict !== '' || scan.instance.data.error !== '', 15000);
  assert.equal(scan.instance.data.verdict, 'allow', `${scan.instance.data.why} ${scan.instance.data.error}`);

  // The host pledges to the general pool. The first answer is lost: the
  // client asks again with the same key and the backend records one pledge.
  setSession(host);
  const needs = page('needs');
  await load(needs);
  const catalogue = needs.instance.data.catalogue as { code: string; specs: string[] }[];
  const n95 = catalogue.findIndex((i) => i.code === 'mask_n95');
  needs.querySelector('#pool-item')!.dispatchEvent('change', { detail: { value: String(n95) } });
  needs.querySelector('#pool-spec')!.dispatchEvent('change', { detail: { value: String(catalogue[n95].specs.indexOf('N95')) } });
  input(needs, '#pool-quantity', '40');
  const donor = '池' + Math.random().toString(36).replace(/[^a-z]/g, '').slice(0, 8);
  input(needs, '#name', donor);
  const before = st.sent.length;
  st.lose = 1;
  tap(needs, '#pool-pledge');
  await until(() => !!needs.querySelector('#pledged') || needs.instance.data.error !== '', 15000);
  assert.ok(needs.querySelector('#pledged'), String(needs.instance.data.error));
  const pledges = st.sent.slice(before).filter((s) => s.method === 'POST' && s.path === '/donations');
  assert.equal(pledges.length, 2, 'sent again after the lost answer');
  assert.equal(pledges[0].headers['Idempotency-Key'], pledges[1].headers['Idempotency-Key']);
  assert.equal((pledges[0].body as { need?: string }).need, undefined, 'the general pool names no need');
  const listed = await call<{ donations: { id: string; donor: string }[] }>('donations');
  assert.deepEqual(listed.data.donations.filter((d) => d.donor === donor).map((d) => d.id), [needs.instance.data.pledged], 'one pledge recorded');
  const donation = String(needs.instance.data.pledged);

  // The host hands it to the first hospital...
  const open = needs.instance.data.needs as { hospital: string; line: { item: string } }[];
  const hospital0 = open.find((n) => n.line.item === 'mask_n95')!.hospital;
  const hospital1 = open.find((n) => n.line.item === 'mask_surgical')!.hospital;
  assert.notEqual(hospital0, hospital1);
  tap(needs, '#handover');
  await until(() => st.navigated.length > 0);
  const handOver = async (options: Record<string, string>, org: string, batch: string, quantity?: string) => {
    const h = page('handover');
    await load(h, options);
    const r = (h.instance.data.receivers as { id: string }[]).findIndex((x) => x.id === org);
    assert.ok(r >= 0, JSON.stringify(h.instance.data.receivers));
    tap(h, `#receiver-${r}`);
    if (batch) input(h, '#batch', batch);
    if (quantity) input(h, '#quantity', quantity);
    tap(h, '#handover');
    await until(() => !!h.querySelector('#done') || h.instance.data.error !== '' || Object.values(h.instance.data.errors as object).some(Boolean), 15000);
    assert.ok(h.querySelector('#done'), `${h.instance.data.error} ${JSON.stringify(h.instance.data.errors)}`);
    return Number(h.instance.data.hop);
  };
  assert.equal(await handOver(optionsOf(st.navigated.pop()!), hospital0, 'POOL-1'), 1);

  // ...whose member confirms the hop and hands part of it on to the second
  // hospital, whose member confirms in turn: each hop confirmed by both sides.
  const receive = async (login: string, hop: string, quantity: string) => {
    st.loginCode = login;
    await signIn();
    const rc = page('receipt');
    await load(rc, { donation, hop, item: 'mask_n95', spec: 'N95' });
    st.files.set('wxfile://tmp/hop.jpg', new Uint8Array(Array.from({ length: 500 }, (_, i) => (i * 13 + Number(hop)) & 0xff)));
    tap(rc, '#photo');
    await until(() => rc.instance.data.photoHash !== '');
    input(rc, '#quantity', quantity);
    input(rc, '#batch', 'POOL-1');
    tap(rc, '#receive');
    await until(() => rc.instance.data.done !== '' || rc.instance.data.error !== '' || Object.values(rc.instance.data.errors as object).some(Boolean), 15000);
    assert.equal(rc.instance.data.done, T.received, JSON.stringify({ ...rc.instance.data, T: undefined }));
    return rc;
  };
  const rc0 = await receive('demo-member-hospital-0', '1', '40');
  tap(rc0, '#onward');
  await until(() => st.navigated.length > 0);
  const onward = optionsOf(st.navigated.pop()!);
  assert.deepEqual(onward, { donation, item: 'mask_n95', spec: 'N95', batch: 'POOL-1', quantity: '40' });
  assert.equal(await handOver(onward, hospital1, '', '30'), 2);
  await receive('demo-member-hospital-1', '2', '30');

  // The public trace shows both receipts, verified on the phone.
  let traced = page('trace');
  for (let i = 0; i < 50; i++) {
    traced = page('trace');
    await load(traced, { donation });
    if (traced.instance.data.verified === 'ok' && (traced.instance.data.steps as { type: string }[]).filter((x) => x.type === 'donation.received').length === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(traced.instance.data.verified, 'ok', String(traced.instance.data.error));
  assert.equal((traced.instance.data.steps as { type: string }[]).filter((x) => x.type === 'donation.received').length, 2);

  const doc = (await (await fetch(BASE + '/openapi.json')).json()) as Doc;
  assert.deepEqual(st.sent.flatMap((s) => checkRequest(doc, s.method, s.path, s.body)), []);
});
