// The gate scanner's logic, apart from its page: online scans, offline
// verification with the cached pass keys and signed revocation list, and
// the queue of offline scans (each with its scan id and time) uploaded in
// batches of at most 500 when the network returns. A scan leaves the queue
// only once the backend has answered for it, and a retried upload is
// harmless (the backend counts a scan id once), so nothing is lost and
// nothing counted twice.
import { ApiError, call, ScanInput, ScanResult, session } from './api';
import { fromBase64url, toBase64url } from './bytes';
import { newId } from './ids';
import { checkToken, newer, parseKeySet, PassKey, Reason, RevocationList, verifyList } from './passtoken';

export const MAX_BATCH = 500;
const QUEUE = 'onebook.scan.queue';
const KEYS = 'onebook.scan.keys';
const LIST = 'onebook.scan.revocations';
const REJECTED = 'onebook.scan.rejected';

export interface Outcome {
  decision: 'allow' | 'deny' | 'duplicate';
  reason?: string;
  offline: boolean;
  scanId: string;
  staleList?: boolean;
}

interface StoredKey { kid: string; public_key: string; not_after: number }

export function queued(): ScanInput[] {
  return (wx.getStorageSync(QUEUE) as ScanInput[] | '') || [];
}

function setQueue(q: ScanInput[]): void {
  wx.setStorageSync(QUEUE, q);
}

export function cachedKeys(): PassKey[] {
  const ks = (wx.getStorageSync(KEYS) as StoredKey[] | '') || [];
  const out: PassKey[] = [];
  for (const k of ks) {
    const pub = fromBase64url(k.public_key);
    if (pub) out.push({ kid: k.kid, publicKey: pub, notAfter: k.not_after });
  }
  return out;
}

/** cachedList is the newest verified revocation list held, re-verified on every read. */
export function cachedList(keys: PassKey[]): RevocationList | null {
  const text = wx.getStorageSync(LIST) as string;
  return text ? verifyList(text, keys) : null;
}

/** refreshOffline fetches and verifies the pass keys and the revocation list; it keeps the newest list. */
export async function refreshOffline(): Promise<{ keys: number; list: RevocationList | null }> {
  const k = await call<unknown>('passKeys');
  const keys = parseKeySet(typeof k.data === 'string' ? JSON.parse(k.data) : k.data);
  if (!keys) throw new ApiError(0, 'invalid', 'malformed pass key set');
  wx.setStorageSync(KEYS, keys.map((x) => ({ kid: x.kid, public_key: toBase64url(x.publicKey), not_after: x.notAfter })));
  const l = await call<string>('revocations', { text: true });
  const list = verifyList(String(l.data), keys);
  if (!list) throw new ApiError(0, 'invalid', 'revocation list does not verify');
  const held = cachedList(keys);
  if (newer(list, held)) wx.setStorageSync(LIST, String(l.data));
  return { keys: keys.length, list: newer(list, held) ? list : held };
}

/** verifyOffline checks token on the phone alone, as the backend's first checks would. */
export function verifyOffline(token: string, community: string, nowSec: number): { ok: boolean; reason?: Reason; stale: boolean } {
  const keys = cachedKeys();
  const list = cachedList(keys);
  const v = checkToken(token, keys, list ? new Set(list.tokens) : null, nowSec);
  const stale = !list || nowSec >= list.notAfter;
  if (!v.ok) return { ok: false, reason: v.reason, stale };
  if (/^[0-9]{12}$/.test(community) && v.claims.community !== community) return { ok: false, reason: 'wrong_community', stale };
  return { ok: true, stale };
}

/** scan checks a pass at gate: online when the backend answers, else on the phone and queued. */
export async function scan(token: string, gate: string, direction: 'in' | 'out', idLast4?: string): Promise<Outcome> {
  const input: ScanInput = { scan_id: newId('s'), token, gate, direction, scanned_at: new Date().toISOString() };
  if (idLast4) input.id_last4 = idLast4;
  try {
    const a = await call<{ scan: ScanResult }>('scan', { body: input, retries: 0 });
    return { decision: 'allow', offline: false, scanId: input.scan_id, reason: a.data.scan.reason };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    const r = (e.body as { scan?: ScanResult } | undefined)?.scan;
    if (e.status === 403 && r) return { decision: 'deny', reason: r.reason, offline: false, scanId: input.scan_id };
    if (e.status === 409) return { decision: 'duplicate', offline: false, scanId: input.scan_id };
    if (e.status !== 0 && e.status < 500 && e.status !== 429) throw e;
    // No answer: decide on the phone, record for upload.
    const s = session();
    const v = verifyOffline(token, s && s.scope ? s.scope : '', Math.floor(Date.now() / 1000));
    setQueue([...queued(), input]);
    return { decision: v.ok ? 'allow' : 'deny', reason: v.reason, offline: true, scanId: input.scan_id, staleList: v.stale };
  }
}

/**
 * upload sends the queue in batches of at most MAX_BATCH. A batch's scans
 * leave the queue once the backend answered for them (recorded, duplicate,
 * or rejected as invalid, which is kept in a log for the operator); on a
 * failed batch the rest stay queued for the next try.
 */
export async function upload(): Promise<{ sent: number; left: number; results: ScanResult[] }> {
  let sent = 0;
  const results: ScanResult[] = [];
  for (;;) {
    const batch = queued().slice(0, MAX_BATCH);
    if (batch.length === 0) break;
    let a;
    try {
      a = await call<{ results: ScanResult[] }>('scanBatch', { body: { scans: batch }, retries: 0 });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 0 || e.status >= 500 || e.status === 429)) break;
      throw e;
    }
    const answered = new Set(a.data.results.map((r) => r.scan_id));
    const rejected = a.data.results.filter((r) => r.decision === 'rejected');
    if (rejected.length) wx.setStorageSync(REJECTED, [...((wx.getStorageSync(REJECTED) as ScanResult[] | '') || []), ...rejected]);
    setQueue(queued().filter((s) => !answered.has(s.scan_id)));
    sent += answered.size;
    results.push(...a.data.results);
    if (answered.size === 0) break; // nothing answered: do not loop
  }
  return { sent, left: queued().length, results };
}
