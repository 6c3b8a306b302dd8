// Checking a public donation trace on the phone: each step's event bytes
// (RFC 8785 canonical JSON) hash to its leaf (RFC 6962 §2.1), the leaf's
// inclusion proof (RFC 9162 §2.1.3.2) leads to the root of a checkpoint
// (C2SP tlog-checkpoint), and that checkpoint is a signed note
// (C2SP signed-note, Ed25519) under the verifier key from configuration.
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
}

/** parseVerifierKey reads a signed-note verifier key: name+hash+base64(0x01 || key). */
export function parseVerifierKey(vkey: string): Verifier | null {
  // The base64 key may itself contain '+': split at the first two only.
  const m = /^([^+\s]+)\+([^+]*)\+(.*)$/.exec(vkey.trim());
  if (!m) return null;
  const [, name, h, b64] = m;
  const raw = fromBase64(b64);
  if (!name || !/^[0-9a-f]{8}$/.test(h) || !raw || raw.length !== 33 || raw[0] !== 1) return null;
  const key = raw.subarray(1);
  const want = hex(sha256(concat(utf8(name + '\n'), raw)).subarray(0, 4));
  if (want !== h) return null;
  return { name, hash: h, key };
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
  const cut = note.lastIndexOf('\n\n');
  if (cut < 0) return null;
  const text = note.slice(0, cut + 1);
  const sigs = note.slice(cut + 2).split('\n').filter((l) => l !== '');
  let ok = false;
  for (const line of sigs) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) return null;
    if (m[1] !== v.name) continue;
    const raw = fromBase64(m[2]);
    if (!raw || raw.length !== 68 || hex(raw.subarray(0, 4)) !== v.hash) continue;
    if (verify(v.key, '', utf8(text), raw.subarray(4))) ok = true;
  }
  if (!ok) return null;
  const lines = text.split('\n');
  if (lines.length < 4 || lines[0] !== v.name) return null;
  if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) return null;
  const root = fromBase64(lines[2]);
  if (!root || root.length !== 32) return null;
  return { origin: lines[0], size: Number(lines[1]), root };
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
 * signed checkpoint; ok only if the checkpoint verifies and every step does.
 */
export function checkTrace(trace: { checkpoint: string; tree_size: number; steps: TraceStep[] }, verifierKey: string): { ok: boolean; checkpoint: boolean; steps: StepCheck[] } {
  const v = parseVerifierKey(verifierKey);
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
  return { ok: cp !== null && steps.length > 0 && steps.every((s) => s.ok), checkpoint: cp !== null, steps };
}
