// The offline check of a pass token, as backend/passtoken does it (see its
// doc.go for the layout): structure, key and signature, validity window,
// revocation list, in that order, the first failure reported. A token of
// format 2 ("OB2.") names its pass by a token id, the pass id's keyed
// pseudonym, which the signed revocation list names; a token of format 1
// ("OB1.", the pass id itself, no longer issued) cannot be checked against
// that list and is refused as outdated when a list is held.
import { concat, equal, fromBase64url, hex, utf8 } from './bytes';
import { verify } from './ed25519';
import { sha256 } from './sha256';

export const PREFIX = 'OB2.';
export const PREFIX_FORMAT1 = 'OB1.';
export const TOKEN_LEN = 136;
const BODY_LEN = 35;
const TOKEN_DOMAIN = 'onebook pass v2\x00';
const TOKEN_DOMAIN_FORMAT1 = 'onebook pass v1\x00';
const LIST_DOMAIN = 'onebook revocations v3\x00';
const KEY_ID_DOMAIN = 'onebook pass key v1\x00';

export type Reason = 'malformed' | 'forged' | 'not_yet_valid' | 'expired' | 'outdated' | 'revoked' | 'wrong_community';

export interface Claims {
  /** format 2: the token id, 32 hex digits; '' for format 1 */
  tokenId: string;
  /** format 1 only: the pass id the token carried; '' for format 2 */
  passId: string;
  visitor: boolean;
  community: string;
  notBefore: number; // unix seconds, first valid second
  notAfter: number; // unix seconds, first invalid second
  kid: string;
}

export interface PassKey {
  kid: string;
  publicKey: Uint8Array;
  notAfter: number; // unix seconds; 0: no bound
}

export interface RevocationList {
  seq: number;
  issued: number;
  notAfter: number;
  tokens: string[];
}

export type Verdict = { ok: true; claims: Claims } | { ok: false; reason: Reason; claims?: Claims };

/** keyId is the first 4 bytes of SHA-256("onebook pass key v1\0" || key), as 8 hex digits. */
export function keyId(publicKey: Uint8Array): string {
  return hex(sha256(concat(utf8(KEY_ID_DOMAIN), publicKey)).subarray(0, 4));
}

function uuid(b: Uint8Array): string {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const TOKEN_ID = /^[0-9a-f]{32}$/;

/** A 12-digit GB/T 2260 community code: the province digits are 11..82, never 00. */
function validCommunity(n: number): boolean {
  if (n > 999999999999) return false;
  const s = String(n).padStart(12, '0');
  return s.slice(0, 2) !== '00';
}

function u32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) >>> 0) + (b[off + 1] << 16) + (b[off + 2] << 8) + b[off + 3];
}

/** parse decodes a token's structure without checking it: for routing, never to admit. */
export function parse(token: string): { claims: Claims; raw: Uint8Array } | null {
  if (typeof token !== 'string' || token.length !== TOKEN_LEN) return null;
  const version = token.startsWith(PREFIX) ? 0x02 : token.startsWith(PREFIX_FORMAT1) ? 0x01 : 0;
  if (version === 0) return null;
  const raw = fromBase64url(token.slice(PREFIX.length));
  if (!raw || raw.length !== BODY_LEN + 64 || raw[0] !== version) return null;
  if (raw[21] !== 0 && raw[21] !== 1) return null;
  const community = raw[22] * 2 ** 32 + u32(raw, 23);
  if (!validCommunity(community)) return null;
  const notBefore = u32(raw, 27);
  const notAfter = u32(raw, 31);
  if (notAfter <= notBefore) return null;
  return {
    raw,
    claims: {
      kid: hex(raw.subarray(1, 5)),
      tokenId: version === 0x02 ? hex(raw.subarray(5, 21)) : '',
      passId: version === 0x01 ? uuid(raw.subarray(5, 21)) : '',
      visitor: raw[21] === 1,
      community: String(community).padStart(12, '0'),
      notBefore,
      notAfter,
    },
  };
}

/** checkToken is passtoken.Verify: nowSec in unix seconds; revoked may be null. */
export function checkToken(token: string, keys: PassKey[], revoked: Set<string> | null, nowSec: number): Verdict {
  const p = parse(token);
  if (!p) return { ok: false, reason: 'malformed' };
  const { claims, raw } = p;
  const k = keys.find((x) => x.kid === claims.kid);
  const domain = raw[0] === 0x01 ? TOKEN_DOMAIN_FORMAT1 : TOKEN_DOMAIN;
  if (!k || !verify(k.publicKey, domain, raw.subarray(0, BODY_LEN), raw.subarray(BODY_LEN))) {
    return { ok: false, reason: 'forged' };
  }
  if (nowSec < claims.notBefore) return { ok: false, reason: 'not_yet_valid', claims };
  if (nowSec >= claims.notAfter) return { ok: false, reason: 'expired', claims };
  if (k.notAfter !== 0 && nowSec >= k.notAfter) return { ok: false, reason: 'expired', claims };
  if (revoked && claims.passId !== '') return { ok: false, reason: 'outdated', claims };
  if (revoked && revoked.has(claims.tokenId)) return { ok: false, reason: 'revoked', claims };
  return { ok: true, claims };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[]): boolean {
  return Object.keys(o).every((k) => allowed.includes(k));
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** parseKeySet reads GET /passes/keys strictly (as KeySet.UnmarshalJSON); null when malformed. */
export function parseKeySet(doc: unknown): PassKey[] | null {
  if (!isObject(doc) || !onlyKeys(doc, ['keys']) || !Array.isArray(doc.keys)) return null;
  const out: PassKey[] = [];
  for (const jk of doc.keys as unknown[]) {
    if (!isObject(jk) || !onlyKeys(jk, ['kid', 'alg', 'public_key', 'not_after'])) return null;
    if (jk.alg !== 'Ed25519' || typeof jk.public_key !== 'string') return null;
    const pub = fromBase64url(jk.public_key);
    if (!pub || pub.length !== 32 || jk.kid !== keyId(pub)) return null;
    if (jk.not_after !== undefined && !isUint(jk.not_after)) return null;
    if (out.some((k) => k.kid === jk.kid)) return null;
    out.push({ kid: jk.kid, publicKey: pub, notAfter: (jk.not_after as number | undefined) ?? 0 });
  }
  return out;
}

/**
 * verifyList checks a signed revocation list (GET /passes/revocations) as
 * passtoken.VerifyList: the signature is over the "list" value's bytes as
 * they appear in text, so text must be the body exactly as served.
 */
export function verifyList(text: string, keys: PassKey[]): RevocationList | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(doc) || !onlyKeys(doc, ['kid', 'list', 'sig']) || typeof doc.kid !== 'string' || typeof doc.sig !== 'string') return null;
  // The signed form is exactly {"kid":"…","list":<bytes>,"sig":"…"}.
  const head = `{"kid":${JSON.stringify(doc.kid)},"list":`;
  const tail = `,"sig":${JSON.stringify(doc.sig)}}`;
  if (!text.startsWith(head) || !text.endsWith(tail)) return null;
  const listBytes = text.slice(head.length, text.length - tail.length);
  const k = keys.find((x) => x.kid === doc.kid);
  const sig = fromBase64url(doc.sig);
  if (!k || !sig || !verify(k.publicKey, LIST_DOMAIN, utf8(listBytes), sig)) return null;
  const l = doc.list;
  if (!isObject(l) || !onlyKeys(l, ['seq', 'issued', 'not_after', 'tokens'])) return null;
  if (!isUint(l.seq) || !isUint(l.issued) || !isUint(l.not_after) || !Array.isArray(l.tokens)) return null;
  if (l.issued <= 0 || l.not_after <= l.issued) return null;
  if (k.notAfter !== 0 && l.not_after > k.notAfter) return null;
  const tokens = l.tokens as unknown[];
  for (let i = 0; i < tokens.length; i++) {
    const p = tokens[i];
    if (typeof p !== 'string' || !TOKEN_ID.test(p)) return null;
    if (i > 0 && (tokens[i - 1] as string) >= p) return null;
  }
  return { seq: l.seq, issued: l.issued, notAfter: l.not_after, tokens: tokens as string[] };
}

/** newer reports whether l supersedes old (RevocationList.Newer). */
export function newer(l: RevocationList, old: RevocationList | null): boolean {
  return !old || l.seq > old.seq || (l.seq === old.seq && l.issued > old.issued);
}

export { equal };
