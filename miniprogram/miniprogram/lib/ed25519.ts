// Ed25519 verification (RFC 8032) through tweetnacl 1.0.3, with the one
// check tweetnacl leaves out and Go's crypto/ed25519 makes: S < L, so that a
// signature has exactly one accepted encoding.
import * as nacl from '../vendor/nacl-fast';
import { concat, utf8 } from './bytes';

// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L = [
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

function scalarBelowL(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i] < L[i]) return true;
    if (s[i] > L[i]) return false;
  }
  return false; // equal to L
}

/** verify reports whether sig is key's signature of domain || msg. */
export function verify(key: Uint8Array, domain: string, msg: Uint8Array, sig: Uint8Array): boolean {
  if (key.length !== 32 || sig.length !== 64 || !scalarBelowL(sig.subarray(32))) return false;
  return nacl.sign.detached.verify(concat(utf8(domain), msg), sig, key);
}
