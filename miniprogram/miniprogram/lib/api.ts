// The one API client of the mini-program. Every call goes through OPS, the
// table of the documented operations it uses (a test checks each one, with
// the bodies the pages send, against the served OpenAPI document).
import { getConfig } from './config';
import { newId } from './ids';

export const OPS = {
  signIn: { method: 'POST', path: '/auth/wechat' },
  bindStaff: { method: 'POST', path: '/auth/staff/bind' },
  me: { method: 'GET', path: '/me' },
  household: { method: 'GET', path: '/me/household' },
  register: { method: 'PUT', path: '/me/household' },
  erase: { method: 'DELETE', path: '/me/household' },
  declare: { method: 'POST', path: '/me/declarations' },
  pass: { method: 'GET', path: '/me/passes/{person}' },
  passKeys: { method: 'GET', path: '/passes/keys' },
  revocations: { method: 'GET', path: '/passes/revocations' },
  registerGate: { method: 'POST', path: '/gates' },
  scan: { method: 'POST', path: '/scans' },
  scanBatch: { method: 'POST', path: '/scans/batch' },
  invite: { method: 'POST', path: '/me/visits' },
  myVisits: { method: 'GET', path: '/me/visits' },
  askVisit: { method: 'POST', path: '/visits' },
  pendingVisits: { method: 'GET', path: '/visits/pending' },
  decideVisit: { method: 'POST', path: '/visits/{visit}/decision' },
  visitPass: { method: 'GET', path: '/visits/{visit}/pass' },
  checkIn: { method: 'POST', path: '/me/checkins' },
  needs: { method: 'GET', path: '/public/needs' },
  donations: { method: 'GET', path: '/public/donations' },
  trace: { method: 'GET', path: '/public/donations/{donation}' },
  pledge: { method: 'POST', path: '/donations' },
  receive: { method: 'POST', path: '/donations/{donation}/hops/{hop}/receipt' },
  consume: { method: 'POST', path: '/stock/consumption' },
  verifierKey: { method: 'GET', path: '/ledger/key' },
  dispatch: { method: 'POST', path: '/donations/{donation}/hops' },
  catalogue: { method: 'GET', path: '/donations/catalogue' },
  subscriptions: { method: 'GET', path: '/me/subscriptions' },
  recordConsent: { method: 'POST', path: '/me/subscriptions' },
} as const;

export type OpName = keyof typeof OPS;

// Bodies, as the OpenAPI document names them.
export interface Session { token: string; expires_at: string; role: string; subject: string; scope?: string; registered?: boolean }
export interface MemberInput { name: string; id_number: string; phone?: string; phone_code?: string; relation?: string }
export interface RegisterInput { community: string; building: string; unit?: string; members: MemberInput[] }
export interface Member { person_id: string; relation: string; name: string; id_number_masked: string; status: string; pass_id: string }
export interface Household { resident_id: string; community: string; building: string; unit: string; members: Member[] }
export interface DeclareInput { person_id: string; temperature: number; symptoms?: string[]; visited?: string[]; contact?: boolean }
export interface DeclareResult { status: 'green' | 'yellow' | 'red'; reason?: string }
export interface PassToken { pass_id: string; token: string; not_after: string; status?: string }
export interface ScanInput { scan_id: string; token: string; id_last4?: string; gate: string; direction: 'in' | 'out'; scanned_at: string }
export interface ScanResult { scan_id: string; decision: 'allow' | 'deny' | 'duplicate' | 'rejected'; reason?: string; seq?: number; status?: string; error?: { code: string; field?: string; message: string } }
export interface VisitInput { name: string; id_number: string; phone: string; host_phone?: string; from: string; to: string }
export interface Visit { id: string; community: string; from: string; to: string; requested_by: string; status: string; visitor_name_masked?: string; reason?: string }
export interface CheckInInput { gate: string; person_id: string; direction: 'in' | 'out' }
export interface Line { item: string; spec: string; quantity: number }
export interface Lot extends Line { batch?: string }
export interface PledgeInput { need?: string; lines: Line[]; note?: string; display_name?: string }
export interface ReceiveInput { lots: Lot[]; condition: 'intact' | 'damaged'; photo_hash: string; note?: string }
export interface ConsumeInput { item: string; spec: string; quantity: number; day?: string; unit?: string }
export interface Need { id: string; hospital: string; line: Line; urgency: string; deliver_to: string; region: string; valid_until: string; pledged: number; received: number }
export interface Receiver { org: string; unit?: string }
export interface DispatchInput { to: Receiver; lots: Lot[]; via?: string }
export interface Party { kind: string; id: string; name: string }
export interface Hop { hop: number; from: Party; to: Receiver; lots: Lot[]; via?: string; receipt?: { lots: Lot[]; condition: string } }
export interface Donation { id: string; donor: Party; need?: string; lines: Line[]; region: string; hops: Hop[] }
export interface CatalogueItem { code: string; name: string; standard?: string; unit: string; specs: string[] }
export type ConsentAnswer = 'accept' | 'reject' | 'ban' | 'filter';
export interface Subscription { kind: string; template: string; answer?: ConsentAnswer; left: number; at?: string }

/** ApiError is a failed call: the API's error (code, field, message) or the network's. */
export class ApiError extends Error {
  status: number; // 0: no answer (network)
  code: string;
  field?: string;
  retryAfter?: number;
  body?: unknown; // the whole answer (a denied scan carries its result)
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export interface Answer<T> {
  status: number;
  data: T;
  etag?: string;
  replayed?: boolean; // the backend answered a retry with the first answer (Idempotent-Replayed)
}

export interface CallOptions {
  params?: Record<string, string | number>;
  query?: Record<string, string>;
  body?: unknown;
  text?: boolean; // answer as text (signed lists, keys)
  headers?: Record<string, string>;
  // key is the Idempotency-Key of a state-changing call: one per user
  // action, the same on each of its retries. Default: a fresh one per call.
  key?: string;
  // retries of a state-changing call whose answer did not come (network),
  // or that the backend could not take yet (503, 409 in progress).
  // Default RETRIES; 0 for callers that retry on their own terms (the
  // scanner's queue, with its scan ids).
  retries?: number;
}

/** RETRIES is how often a state-changing call is retried, with the same key, after RETRY_DELAYS. */
export const RETRIES = 2;
const RETRY_DELAYS = [300, 1000];

const SESSION = 'onebook.session';

export function session(): Session | null {
  const s = wx.getStorageSync(SESSION) as Session | '';
  return s || null;
}

export function setSession(s: Session | null): void {
  if (s) wx.setStorageSync(SESSION, s);
  else wx.removeStorageSync(SESSION);
}

function fill(path: string, params: Record<string, string | number> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_, k: string) => {
    if (params[k] === undefined) throw new Error(`missing path parameter ${k}`);
    return encodeURIComponent(String(params[k]));
  });
}

function header(h: Record<string, string> | undefined, name: string): string | undefined {
  if (!h) return undefined;
  const k = Object.keys(h).find((x) => x.toLowerCase() === name.toLowerCase());
  return k ? h[k] : undefined;
}

/** newKey is the Idempotency-Key of one user action. */
export function newKey(): string {
  return newId('k');
}

/**
 * retryable says whether a failed state-changing call may be sent again with
 * its key: no answer came (the request may or may not have been taken: the
 * key makes the retry safe), the backend was unavailable (a 5xx answer is
 * not kept, so the retry runs), or the first request with the key is still
 * running (409 naming Idempotency-Key).
 */
export function retryable(e: unknown): boolean {
  if (!(e instanceof ApiError)) return false;
  return e.status === 0 || e.status === 503 || (e.status === 409 && e.field === 'Idempotency-Key');
}

/**
 * call makes one documented operation; it rejects with ApiError unless the
 * status is 2xx (or 304). A state-changing call carries an Idempotency-Key,
 * fresh per call unless o.key names the user action's, and is retried with
 * that same key when retryable: the backend then answers it once.
 */
export async function call<T>(op: OpName, o: CallOptions = {}): Promise<Answer<T>> {
  const write = OPS[op].method !== 'GET';
  const key = write ? o.key || newKey() : undefined;
  const retries = write ? (o.retries === undefined ? RETRIES : o.retries) : 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await send<T>(op, o, key);
    } catch (e) {
      if (attempt >= retries || !retryable(e)) throw e;
      const ra = (e as ApiError).retryAfter;
      const wait = ra !== undefined && ra >= 0 ? Math.min(ra * 1000, 2000) : RETRY_DELAYS[Math.min(attempt, RETRY_DELAYS.length - 1)];
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

function send<T>(op: OpName, o: CallOptions, key: string | undefined): Promise<Answer<T>> {
  const { method, path } = OPS[op];
  let url = getConfig().backend + fill(path, o.params);
  if (o.query) {
    const q = Object.keys(o.query).map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(o.query![k])}`).join('&');
    if (q) url += '?' + q;
  }
  const h: Record<string, string> = { ...(o.headers || {}) };
  const s = session();
  if (s) h.Authorization = 'Bearer ' + s.token;
  if (key) h['Idempotency-Key'] = key;
  if (o.body !== undefined) h['Content-Type'] = 'application/json';
  return new Promise((resolve, reject) => {
    wx.request({
      url,
      method,
      header: h,
      data: o.body === undefined ? undefined : JSON.stringify(o.body),
      dataType: o.text ? '其他' : 'json',
      responseType: 'text',
      timeout: 10000,
      success: (res) => {
        const etag = header(res.header as Record<string, string>, 'ETag');
        if ((res.statusCode >= 200 && res.statusCode < 300) || res.statusCode === 304) {
          resolve({ status: res.statusCode, data: res.data as T, etag, replayed: header(res.header as Record<string, string>, 'Idempotent-Replayed') === 'true' });
          return;
        }
        let body = res.data as unknown;
        if (typeof body === 'string') {
          try {
            body = JSON.parse(body);
          } catch {
            body = null;
          }
        }
        const e = (body as { error?: { code?: string; field?: string; message?: string } } | null)?.error;
        const err = new ApiError(res.statusCode, e?.code || 'internal', e?.message || `HTTP ${res.statusCode}`, e?.field);
        err.body = body;
        const ra = header(res.header as Record<string, string>, 'Retry-After');
        if (ra) err.retryAfter = Number(ra);
        reject(err);
      },
      fail: (err) => reject(new ApiError(0, 'network', err.errMsg)),
    });
  });
}

/** signIn is wx.login, then POST /auth/wechat; the session is kept in storage. */
export function signIn(): Promise<Session> {
  return new Promise<string>((resolve, reject) => {
    wx.login({ success: (r) => resolve(r.code), fail: (e) => reject(new ApiError(0, 'network', e.errMsg)) });
  }).then(async (code) => {
    setSession(null);
    const a = await call<Session>('signIn', { body: { code } });
    setSession(a.data);
    return a.data;
  });
}

/** renewSession keeps the session PUT /me/household answers (it now names the household). */
export function renewSession(answer: { session?: Session }): void {
  if (answer && answer.session && answer.session.token) setSession(answer.session);
}

/**
 * bindStaff binds this WeChat user to the staff account of a one-time
 * invite code (wx.login, then POST /auth/staff/bind); the staff session is
 * kept in storage. One key for the action: a retry after a lost answer gets
 * the session the first request made (the invite works once).
 */
export function bindStaff(invite: string): Promise<Session> {
  return new Promise<string>((resolve, reject) => {
    wx.login({ success: (r) => resolve(r.code), fail: (e) => reject(new ApiError(0, 'network', e.errMsg)) });
  }).then(async (code) => {
    const a = await call<Session>('bindStaff', { body: { code, invite_code: invite } });
    setSession(a.data);
    return a.data;
  });
}
