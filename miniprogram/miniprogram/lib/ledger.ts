// Checking a public donation trace on the phone: each step's event bytes
// (RFC 8785 canonical JSON) hash to its leaf (RFC 6962 §2.1), the leaf's
// inclusion proof (RFC 9162 §2.1.3.2) leads to the root of a checkpoint
// (C2SP tlog-checkpoint), and that checkpoint is a signed note
// (C2SP signed-note, Ed25519) under the verifier key from configuration,
// cosigned by as many of the configured witnesses as the witness policy
// requires (C2SP tlog-cosignature, cosignature/v1).
import { concat, equal, fromBase64, hex, utf8 } from './bytes';
import { verify } from './ed25519';
import { sha256 } from './sha256';

/** canonical is RFC 8785 JSON of v (keys sorted by UTF-16 code units). */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('canonical: non-finite number');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical(o[k])).join(',') + '}';
}

export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(concat(new Uint8Array([0]), entry));
}

function nodeHash(l: Uint8Array, r: Uint8Array): Uint8Array {
  return sha256(concat(new Uint8Array([1]), l, r));
}

/** rootFromInclusion returns the root that proof leads leaf to, or null (RFC 9162 §2.1.3.2). */
export function rootFromInclusion(index: number, size: number, leaf: Uint8Array, proof: Uint8Array[]): Uint8Array | null {
  if (!(index >= 0 && index < size)) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export interface Verifier {
  name: string;
  hash: string; // 8 hex digits
  key: Uint8Array;
  type: number; // 0x01 signed-note Ed25519, 0x04 cosignature/v1 Ed25519
}

/** parseVerifierKey reads a signed-note verifier key: name+hash+base64(0x01 || key). */
export function parseVerifierKey(vkey: string): Verifier | null {
  const v = parseKey(vkey);
  return v && v.type === 1 ? v : null;
}

/**
 * parseWitnessKey reads a witness's verifier key: a C2SP cosignature/v1 key
 * (type 0x04) or a plain signed-note Ed25519 key (type 0x01, onebook's
 * older witness protocol).
 */
export function parseWitnessKey(vkey: string): Verifier | null {
  return parseKey(vkey);
}

// parseKey reads name+hash+base64(type || Ed25519 key); the hash is the
// first 4 bytes of SHA-256(name || 0x0A || type || key).
function parseKey(vkey: string): Verifier | null {
  // The base64 key may itself contain '+': split at the first two only.
  const m = /^([^+\s]+)\+([^+]*)\+(.*)$/.exec(vkey.trim());
  if (!m) return null;
  const [, name, h, b64] = m;
  const raw = fromBase64(b64);
  if (!name || !/^[0-9a-f]{8}$/.test(h) || !raw || raw.length !== 33 || (raw[0] !== 1 && raw[0] !== 4)) return null;
  const want = hex(sha256(concat(utf8(name + '\n'), raw)).subarray(0, 4));
  if (want !== h) return null;
  return { name, hash: h, key: raw.subarray(1), type: raw[0] };
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
}

/**
 * openCheckpoint verifies a signed note with v (other signers' lines, such
 * as witnesses' cosignatures, are ignored) and parses the checkpoint.
 */
export function openCheckpoint(note: string, v: Verifier): Checkpoint | null {
  const n = splitNote(note);
  if (!n || !n.sigs.some((sig) => signedBy(v, n.text, sig))) return null;
  const text = n.text;
  const lines = text.split('\n');
  if (lines.length < 4 || lines[0] !== v.name) return null;
  if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) return null;
  const root = fromBase64(lines[2]);
  if (!root || root.length !== 32) return null;
  return { origin: lines[0], size: Number(lines[1]), root };
}

interface Signature { name: string; raw: Uint8Array }

// splitNote cuts a signed note into its text (with the final newline) and
// its signature lines; null if it is not one.
function splitNote(note: string): { text: string; sigs: Signature[] } | null {
  const cut = note.lastIndexOf('\n\n');
  if (cut < 0) return null;
  const sigs: Signature[] = [];
  for (const line of note.slice(cut + 2).split('\n').filter((l) => l !== '')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    const raw = m && fromBase64(m[2]);
    if (!m || !raw) return null;
    sigs.push({ name: m[1], raw });
  }
  return { text: note.slice(0, cut + 1), sigs };
}

// signedBy reports whether sig is v's valid signature of text: Ed25519
// over the text (type 0x01), or a cosignature/v1 (type 0x04): an 8-byte
// big-endian timestamp, then Ed25519 over
// "cosignature/v1\ntime <timestamp>\n" || text.
function signedBy(v: Verifier, text: string, sig: Signature): boolean {
  if (sig.name !== v.name || sig.raw.length < 4 || hex(sig.raw.subarray(0, 4)) !== v.hash) return false;
  if (v.type === 1) return sig.raw.length === 68 && verify(v.key, '', utf8(text), sig.raw.subarray(4));
  if (sig.raw.length !== 4 + 8 + 64) return false;
  const hi = (sig.raw[4] << 24 | sig.raw[5] << 16 | sig.raw[6] << 8 | sig.raw[7]) >>> 0;
  const lo = (sig.raw[8] << 24 | sig.raw[9] << 16 | sig.raw[10] << 8 | sig.raw[11]) >>> 0;
  if (hi >= 0x200000) return false; // beyond 2^53 seconds: not a time, and not exact in a number
  const ts = hi * 0x100000000 + lo;
  return verify(v.key, 'cosignature/v1\ntime ' + ts.toFixed(0) + '\n', utf8(text), sig.raw.subarray(12));
}

/** WitnessPolicy: at least quorum of the witnesses' keys must have cosigned. */
export interface WitnessPolicy {
  witnesses: string[]; // verifier keys (cosignature/v1 or plain)
  quorum: number;
}

export interface WitnessCheck {
  ok: boolean; // the policy is met
  cosigned: string[]; // names of the policy's witnesses with a valid cosignature
  missing: string[]; // names of those without (or whose key does not parse)
}

/**
 * checkWitnesses checks a signed checkpoint note against a witness policy;
 * signature lines by other keys are ignored. A quorum of 0 is always met.
 */
export function checkWitnesses(note: string, policy: WitnessPolicy): WitnessCheck {
  const n = splitNote(note);
  const cosigned: string[] = [];
  const missing: string[] = [];
  for (const k of policy.witnesses) {
    const v = parseWitnessKey(k);
    if (v && n && n.sigs.some((sig) => signedBy(v, n.text, sig))) cosigned.push(v.name);
    else missing.push(v ? v.name : k);
  }
  return { ok: cosigned.length >= policy.quorum, cosigned, missing };
}

export interface TraceStep {
  index: number;
  type: string;
  time: string;
  event: unknown;
  leaf_hash: string;
  proof: string[];
}

export interface StepCheck {
  index: number;
  type: string;
  ok: boolean;
}

/**
 * checkTrace checks every step of GET /public/donations/{id} against its
 * signed checkpoint; ok only if the checkpoint verifies, meets the witness
 * policy, and every step verifies.
 */
export function checkTrace(trace: { checkpoint: string; tree_size: number; steps: TraceStep[] }, verifierKey: string, policy: WitnessPolicy = { witnesses: [], quorum: 0 }): { ok: boolean; checkpoint: boolean; witnesses: WitnessCheck; steps: StepCheck[] } {
  const v = parseVerifierKey(verifierKey);
  const witnesses = checkWitnesses(trace.checkpoint, policy);
  const cp = v ? openCheckpoint(trace.checkpoint, v) : null;
  const steps: StepCheck[] = [];
  for (const s of trace.steps) {
    let ok = false;
    if (cp && cp.size === trace.tree_size) {
      const leaf = leafHash(utf8(canonical(s.event)));
      const claimed = fromBase64(s.leaf_hash);
      const proof = s.proof.map((p) => fromBase64(p));
      if (claimed && equal(leaf, claimed) && proof.every((p) => p !== null)) {
        const root = rootFromInclusion(s.index, cp.size, leaf, proof as Uint8Array[]);
        ok = root !== null && equal(root, cp.root);
      }
    }
    steps.push({ index: s.index, type: s.type, ok });
  }
  return { ok: cp !== null && witnesses.ok && steps.length > 0 && steps.every((s) => s.ok), checkpoint: cp !== null, witnesses, steps };
}
