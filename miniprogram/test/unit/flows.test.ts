// The staff, visitor, hand-onward, pool and consent pages, and the client's
// retries, driven through taps and inputs against a fake wx whose
// wx.request answers from a handler here. Every request sent is checked
// against the OpenAPI document the backend serves.
import { page, reset, st, until } from '../env';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Sent } from '../fakewx';
import { T } from '../../miniprogram/lib/strings';
import { call, RETRIES } from '../../miniprogram/lib/api';
import { inviteOf } from '../../miniprogram/lib/scene';
import { kindsFor } from '../../miniprogram/lib/notices';
import { checkRequest, Doc } from '../openapi';

const ROOT = path.join(__dirname, '..', '..', '..', '..');
const V = JSON.parse(fs.readFileSync(path.join(ROOT, 'backend', 'passtoken', 'testdata', 'vectors.json'), 'utf8'));
const doc: Doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'miniapp-api', 'api', 'openapi.json'), 'utf8'));

type Comp = ReturnType<typeof page>;
function input(c: Comp, sel: string, value: string) {
  const el = c.querySelector(sel);
  assert.ok(el, sel);
  el!.dispatchEvent('input', { detail: { value } });
}
function tap(c: Comp, sel: string) {
  const el = c.querySelector(sel);
  assert.ok(el, sel);
  el!.dispatchEvent('tap');
}
const load = (c: Comp, o: object = {}) => (c.instance.onLoad as (o: object) => Promise<void>)(o);
const json = (statusCode: number, data: unknown, header: Record<string, string> = {}) => ({ statusCode, data: JSON.stringify(data), header: { 'Content-Type': 'application/json', ...header } });
const text = (c: Comp, sel: string) => c.querySelector(sel)?.dom.textContent?.trim();
function signedIn(role: string, scope = '') {
  st.storage.set('onebook.session', JSON.stringify({ token: 't-' + role, role, subject: 's-' + role, scope, expires_at: '' }));
}
function documented() {
  assert.deepEqual(st.sent.flatMap((s) => checkRequest(doc, s.method, s.path, s.body)), []);
}

// idempotentBackend answers like the backend's middleware: the first
// request with a key runs (effects counts them), a retry with the same key
// gets the first answer again, marked replayed.
function idempotentBackend(run: (r: Sent) => { statusCode: number; data: string; header: Record<string, string> }) {
  const answers = new Map<string, ReturnType<typeof run>>();
  const b = { effects: 0, handler: (r: Sent) => {
    const key = r.headers['Idempotency-Key'];
    const first = key ? answers.get(key) : undefined;
    if (first) return { ...first, header: { ...first.header, 'Idempotent-Replayed': 'true' } };
    b.effects++;
    const a = run(r);
    if (key) answers.set(key, a);
    return a;
  } };
  return b;
}

test('client: a retry after a lost answer sends the same key, and the backend answers once', async () => {
  reset();
  signedIn('resident', '110105001001');
  let n = 0;
  const be = idempotentBackend(() => json(201, { id: `d-${++n}` }));
  st.handler = be.handler;
  st.lose = 1;
  const body = { lines: [{ item: 'mask_n95', spec: 'N95', quantity: 5 }] };
  const a = await call<{ id: string }>('pledge', { body });
  assert.equal(st.sent.length, 2, 'sent, lost, sent again');
  const keys = st.sent.map((s) => s.headers['Idempotency-Key']);
  assert.ok(keys[0] && keys[0] === keys[1], `the retry carries the first key: ${keys}`);
  assert.equal(be.effects, 1, 'the backend ran it once');
  assert.equal(a.data.id, 'd-1');
  assert.equal(a.replayed, true);

  // A new user action is a new key.
  await call('pledge', { body });
  assert.notEqual(st.sent[2].headers['Idempotency-Key'], keys[0]);
  assert.equal(be.effects, 2);

  // Answers that are answers are not retried; reads carry no key.
  st.sent = [];
  st.handler = () => json(400, { error: { code: 'invalid', field: 'lines', message: 'x' } });
  await assert.rejects(call('pledge', { body }));
  assert.equal(st.sent.length, 1);
  st.handler = () => json(200, { needs: [] });
  await call('needs');
  assert.equal(st.sent[1].headers['Idempotency-Key'], undefined);

  // A backend still running the first (409 naming the key) or unavailable
  // (503) is asked again with the same key, a bounded number of times.
  st.sent = [];
  st.handler = () => json(503, { error: { code: 'unavailable', message: 'x' } });
  await assert.rejects(call('pledge', { body }), (e: { status: number }) => e.status === 503);
  assert.equal(st.sent.length, RETRIES + 1);
  assert.equal(new Set(st.sent.map((s) => s.headers['Idempotency-Key'])).size, 1);
  st.sent = [];
  let busy = true;
  st.handler = () => {
    if (busy) {
      busy = false;
      return json(409, { error: { code: 'conflict', field: 'Idempotency-Key', message: 'in progress' } }, { 'Retry-After': '0' });
    }
    return json(201, { id: 'd-9' });
  };
  assert.equal((await call<{ id: string }>('pledge', { body })).data.id, 'd-9');
  assert.equal(st.sent.length, 2);
  // The scanner retries through its own queue (scan ids), not here.
  st.sent = [];
  st.online = false;
  await assert.rejects(call('scan', { body: { scan_id: 's1', token: 'OB1.x', gate: 'g', direction: 'in', scanned_at: '2026-12-05T10:00:00.000Z' }, retries: 0 }));
  st.online = true;
});

test('staff: an invite binds this WeChat account; a bad code is said on its field', async () => {
  reset();
  assert.equal(inviteOf({ scene: encodeURIComponent('i=ab12cd34ef56ab12cd34') }), 'AB12CD34EF56AB12CD34');
  assert.equal(inviteOf({ code: 'AB12CD34' }), 'AB12CD34');
  st.loginCode = 'wx-code-1';
  let reply = json(400, { error: { code: 'invalid', field: 'invite_code', message: 'unknown or already used invite code' } });
  st.handler = () => reply;
  const c = page('staff');
  await load(c, { scene: encodeURIComponent('AB12CD34EF56AB12CD34') });
  assert.equal(c.instance.data.invite, 'AB12CD34EF56AB12CD34');
  tap(c, '#bind');
  await until(() => !!c.querySelector('#invite-err'));
  assert.equal(text(c, '#invite-err'), T.errors.invalid);
  assert.deepEqual(st.sent[0].body, { code: 'wx-code-1', invite_code: 'AB12CD34EF56AB12CD34' });
  assert.equal(st.storage.has('onebook.session'), false);

  input(c, '#invite', '');
  tap(c, '#bind');
  await until(() => !!c.querySelector('#invite-err'));
  assert.equal(text(c, '#invite-err'), T.required);
  assert.equal(st.sent.length, 1, 'an empty code is not sent');

  reply = json(200, { token: 'staff-t', role: 'property_manager', subject: 's-1', scope: '110105001001', registered: true, expires_at: '2026-12-05T22:00:00Z' });
  input(c, '#invite', 'ab12cd34ef56ab12cd34');
  tap(c, '#bind');
  await until(() => !!c.querySelector('#bound'));
  assert.match(text(c, '#bound')!, new RegExp(T.roles.property_manager));
  assert.equal(JSON.parse(st.storage.get('onebook.session')!).token, 'staff-t');
  documented();
});

test('pending: a property manager sees the visits of the community and decides', async () => {
  reset();
  signedIn('property_manager', '110105001001');
  const visits = [
    { id: 'v1', community: '110105001001', from: '2026-12-05T10:00:00Z', to: '2026-12-05T14:00:00Z', requested_by: 'visitor', status: 'pending', visitor_name_masked: '张*' },
    { id: 'v2', community: '110105001001', from: '2026-12-05T10:00:00Z', to: '2026-12-05T14:00:00Z', requested_by: 'visitor', status: 'pending', visitor_name_masked: '李*' },
  ];
  st.handler = (r) => {
    if (r.method === 'GET' && r.path === '/visits/pending') return json(200, { visits: visits.filter((v) => v.status === 'pending' && v.community === r.query.community) });
    const m = /^\/visits\/(\w+)\/decision$/.exec(r.path);
    if (m) {
      const v = visits.find((x) => x.id === m[1])!;
      v.status = (r.body as { approve: boolean }).approve ? 'approved' : 'refused';
      return json(200, v);
    }
    return json(404, { error: { code: 'not_found', message: '' } });
  };
  const c = page('pending');
  await load(c);
  assert.equal(c.instance.data.community, '110105001001', 'the scope of a community manager');
  assert.equal((c.instance.data.visits as unknown[]).length, 2);
  assert.equal(st.sent[0].query.community, '110105001001');
  tap(c, '#approve-0');
  await until(() => (c.instance.data.visits as unknown[]).length === 1);
  assert.deepEqual(st.sent[1].body, { approve: true });
  assert.equal(text(c, '#done'), `张* · ${T.visitStatus.approved}`);
  input(c, '#reason', '未预约');
  tap(c, '#refuse-0');
  await until(() => !!c.querySelector('#none'));
  assert.deepEqual(st.sent[3].body, { approve: false, reason: '未预约' });
  assert.equal(text(c, '#none'), T.noPending);

  // A manager of a wider region names the community; a wrong code is not sent.
  reset();
  signedIn('property_manager', '110105');
  st.handler = () => json(200, { visits: [] });
  const w = page('pending');
  await load(w);
  assert.equal(st.sent.length, 0);
  input(w, '#community', '1101');
  tap(w, '#load');
  await until(() => !!w.querySelector('#community-err'));
  assert.equal(st.sent.length, 0);
  input(w, '#community', '110105001002');
  tap(w, '#load');
  await until(() => !!w.querySelector('#none'));
  assert.equal(st.sent[0].query.community, '110105001002');
  documented();
});

test('visitor pass: drawn like the resident pass, kept for offline use, a clear word while pending', async () => {
  reset();
  signedIn('resident');
  const notAfter = new Date(Date.now() + 4 * 3600 * 1000).toISOString();
  let reply = json(200, { pass_id: 'p-v', token: V.tokens[0].token, not_after: notAfter, status: 'visitor' });
  st.handler = (r) => (r.path === '/visits/v1/pass' ? reply : json(404, {}));
  let c = page('visitpass');
  await load(c, { visit: 'v1' });
  await until(() => c.instance.data.modules === 49);
  assert.equal(c.instance.data.state, 'ok');
  assert.ok(st.fills > 100, 'modules painted on the canvas');
  (c.instance.onUnload as () => void)();

  st.online = false;
  c = page('visitpass');
  await load(c, { visit: 'v1' });
  assert.equal(c.instance.data.state, 'offline');
  assert.equal(c.instance.data.token, V.tokens[0].token);
  assert.ok(c.querySelector('#offline'));
  (c.instance.onUnload as () => void)();

  st.online = true;
  reply = json(409, { error: { code: 'conflict', message: 'the visit is pending' } });
  c = page('visitpass');
  await load(c, { visit: 'v1' });
  assert.equal(text(c, '#pending'), T.visitPending);
  assert.equal(st.storage.has('onebook.pass.visit.v1'), false, 'no pass kept for a visit not approved');
  reply = json(409, { error: { code: 'conflict', message: 'the visit is refused' } });
  c = page('visitpass');
  await load(c, { visit: 'v1' });
  assert.equal(text(c, '#refused'), T.visitRefused);
  (c.instance.onUnload as () => void)();
  documented();
});

test('handover: the holder hands lots to the next organisation, checked on the phone first', async () => {
  reset();
  signedIn('org_member');
  let reply = json(400, { error: { code: 'invalid', field: 'lots', message: 'dispatching 900 but holds 800' } });
  st.handler = (r) => {
    if (r.path === '/public/needs') return json(200, { needs: [], orgs: { 'o-b': '第二医院', 'o-a': '第一医院' } });
    if (r.path === '/donations/d-1/hops') return reply;
    return json(404, {});
  };
  const c = page('handover');
  await load(c, { donation: 'd-1', item: 'mask_n95', spec: 'N95', batch: '', quantity: '900' });
  assert.deepEqual((c.instance.data.receivers as { id: string }[]).map((r) => r.id), ['o-a', 'o-b']);
  tap(c, '#handover');
  await until(() => !!c.querySelector('#batch-err') && !!c.querySelector('#to-err'));
  assert.equal(st.sent.length, 1, 'only the needs were asked for');
  input(c, '#batch', 'bad batch!');
  tap(c, '#receiver-1');
  tap(c, '#handover');
  await until(() => text(c, '#batch-err') === T.errors.invalid);
  assert.equal(st.sent.length, 1);
  input(c, '#batch', 'E2E-1');
  tap(c, '#handover');
  await until(() => !!c.querySelector('#quantity-err'));
  assert.equal(text(c, '#quantity-err'), T.errors.invalid, "the API's lots error is the quantity's");
  assert.deepEqual(st.sent[1].body, { to: { org: 'o-b' }, lots: [{ item: 'mask_n95', spec: 'N95', quantity: 900, batch: 'E2E-1' }] });
  reply = json(201, { id: 'd-1', hops: [{ hop: 1 }, { hop: 2 }] });
  input(c, '#quantity', '800');
  input(c, '#via', '顺丰 SF123');
  tap(c, '#handover');
  await until(() => !!c.querySelector('#done'));
  assert.match(text(c, '#done')!, /2/);
  assert.deepEqual(st.sent[2].body, { to: { org: 'o-b' }, lots: [{ item: 'mask_n95', spec: 'N95', quantity: 800, batch: 'E2E-1' }], via: '顺丰 SF123' });
  tap(c, '#handover');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(st.sent.length, 3, 'one hop per page');
  documented();
});

test('receipt: a confirmed hop leads on to the handover page with its lot', async () => {
  reset();
  signedIn('org_member');
  st.handler = () => json(200, { id: 'd-1' });
  st.files.set('wxfile://tmp/a.jpg', new Uint8Array([1, 2, 3]));
  const c = page('receipt');
  await load(c, { donation: 'd-1', hop: '1', item: 'mask_n95', spec: 'N95' });
  assert.equal(c.querySelector('#onward'), undefined);
  tap(c, '#photo');
  await until(() => c.instance.data.photoHash !== '');
  input(c, '#quantity', '800');
  input(c, '#batch', 'E2E-1');
  tap(c, '#receive');
  await until(() => !!c.querySelector('#onward'));
  tap(c, '#onward');
  await until(() => st.navigated.length > 0);
  assert.equal(st.navigated.pop(), '/pages/handover/index?donation=d-1&item=mask_n95&spec=N95&batch=E2E-1&quantity=800');
});

test('needs: a pledge to the general pool names no need', async () => {
  reset();
  signedIn('resident', '110105001001');
  const items = [
    { code: 'mask_n95', name: '医用防护口罩', unit: '只', specs: ['KN95', 'N95'] },
    { code: 'gloves', name: '医用检查手套', unit: '副', specs: ['S', 'M', 'L'] },
  ];
  st.handler = (r) => {
    if (r.path === '/public/needs') return json(200, { needs: [], orgs: {} });
    if (r.path === '/public/donations') return json(200, { donations: [] });
    if (r.path === '/donations/catalogue') return json(200, { items });
    if (r.path === '/donations') return json(201, { id: 'd-pool' });
    return json(404, {});
  };
  const c = page('needs');
  await load(c);
  c.querySelector('#pool-item')!.dispatchEvent('change', { detail: { value: '1' } });
  c.querySelector('#pool-spec')!.dispatchEvent('change', { detail: { value: '2' } });
  input(c, '#pool-quantity', '0');
  tap(c, '#pool-pledge');
  await until(() => !!c.querySelector('#pool-quantity-err'));
  input(c, '#pool-quantity', '300');
  input(c, '#name', '热心市民');
  tap(c, '#pool-pledge');
  await until(() => !!c.querySelector('#pledged'));
  const pledge = st.sent.find((s) => s.method === 'POST')!;
  assert.deepEqual(pledge.body, { lines: [{ item: 'gloves', spec: 'L', quantity: 300 }], display_name: '热心市民' });
  tap(c, '#handover');
  await until(() => st.navigated.length > 0);
  assert.equal(st.navigated.pop(), '/pages/handover/index?donation=d-pool&item=gloves&spec=L&quantity=300');
  documented();
});

test('my data: each kind of notice is asked for on a tap, and the answer, accept or reject, is recorded', async () => {
  reset();
  signedIn('resident', '110105001001');
  assert.deepEqual(kindsFor('cdc_reviewer'), ['alert_raised']);
  const tpl: Record<string, string> = { visit_decided: 'tpl-visit', pass_revoked: 'tpl-revoked', person_transferred: 'tpl-move', donation_hop: 'tpl-hop', alert_raised: 'tpl-alert' };
  const grants: Record<string, { answer: string; left: number }> = {};
  st.handler = (r) => {
    if (r.path === '/me/household') return json(200, { resident_id: 'r', community: '110105001001', building: '1', unit: '', members: [] });
    if (r.path === '/me/subscriptions' && r.method === 'POST') {
      for (const [t, a] of Object.entries((r.body as { answers: Record<string, string> }).answers)) {
        grants[t] = { answer: a, left: a === 'accept' ? (grants[t]?.left || 0) + 1 : 0 };
      }
    }
    if (r.path === '/me/subscriptions') {
      return json(200, { subscriptions: Object.keys(tpl).sort().map((kind) => ({ kind, template: tpl[kind], ...(grants[tpl[kind]] || { left: 0 }) })) });
    }
    return json(404, {});
  };
  const c = page('mydata');
  await load(c);
  assert.deepEqual((c.instance.data.notices as { kind: string }[]).map((n) => n.kind), ['donation_hop', 'pass_revoked', 'person_transferred', 'visit_decided'], "a resident's kinds only");
  assert.match(text(c, '#notice-visit_decided')!, new RegExp(T.noticeNever));
  tap(c, '#subscribe-visit_decided');
  await until(() => grants['tpl-visit'] !== undefined && /1/.test(text(c, '#notice-visit_decided') || ''));
  assert.deepEqual(st.sent.find((s) => s.method === 'POST')!.body, { answers: { 'tpl-visit': 'accept' } });
  st.subscribeAnswers['tpl-hop'] = 'reject';
  tap(c, '#subscribe-donation_hop');
  await until(() => new RegExp(T.noticeRefused).test(text(c, '#notice-donation_hop') || ''));
  assert.deepEqual(st.sent.filter((s) => s.method === 'POST')[1].body, { answers: { 'tpl-hop': 'reject' } });
  documented();
});
