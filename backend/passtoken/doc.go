// Package passtoken is the personal QR pass of the entry/exit service (出入通):
// a compact token signed with Ed25519 (RFC 8032) that a scanner phone can
// check offline, holding only the public keys and the revocation list, both
// served by the backend and both signed.
//
// # Token, format version 1
//
// A token is the text prefix "OB1." followed by 99 bytes in base64url without
// padding (RFC 4648 §5): 136 ASCII characters in all. The bytes are, with
// every integer big-endian:
//
//	offset  size  field
//	     0     1  format version, 0x01
//	     1     4  key id: the first 4 bytes of SHA-256("onebook pass key v1\x00" || public key)
//	     5    16  pass id: the UUID's 16 bytes (RFC 9562 §4), the aggregate id of the pass
//	    21     1  holder kind: 0x00 resident, 0x01 visitor; other values are malformed
//	    22     5  community: the 12-digit region code read as a decimal number
//	              (< 10^12 < 2^40), e.g. 110105001001 = 0x19a2c4fc29
//	    27     4  not-before, unix seconds: first second of validity
//	    31     4  not-after, unix seconds: first second of invalidity (exclusive)
//	    35    64  Ed25519 signature over "onebook pass v1\x00" || bytes 0..34
//
// The domain-separation prefix "onebook pass v1\x00" (16 bytes) is signed but
// not carried, so no other message signed by the same key (a revocation list
// is signed under "onebook revocations v1\x00") can pass for a token. A token
// carries no personal data: the pass id leads to the holder only through the
// ledger. Every field has exactly one encoding and the signature is checked
// with the strict Ed25519 rules of crypto/ed25519 (S < L), so an accepted
// token string is exactly the one its signer produced: the token can serve as
// its own identity.
//
// A token is valid at time t when NotBefore <= t < NotAfter and t is before
// its key's NotAfter. Times are whole seconds up to 2106-02-07T06:28:15Z.
// The token fits a QR code of version 8 at error-correction level M (byte
// mode); issue 4 requires version 10 or less.
//
// # Keys and rotation
//
// A Signer is an Ed25519 private key with its key id and a NotAfter that
// bounds everything it signs: Issue refuses a pass that would outlive the key,
// and Verify treats a token as expired once its key has. Scanners get a
// KeySet, whose JSON form is
//
//	{"keys":[{"kid":"8 hex digits","alg":"Ed25519","public_key":"base64url, 32 bytes","not_after":unix seconds}]}
//
// Several keys are valid at once: the newest key (the one with the latest
// NotAfter) signs, older keys stay in the set until their NotAfter so that the
// passes they signed keep working, and a key removed from the set early (a
// compromised key) makes every token it signed read as forged.
//
// # Revocation list
//
// A RevocationList names revoked passes and nothing else about them (not
// why, not when). The backend signs it with its current Signer (SignList)
// when it changes and serves the same bytes until then; scanners check it
// with VerifyList against the KeySet. The signed form is compact JSON,
//
//	{"kid":"…","list":{"seq":…,"issued":…,"not_after":…,"passes":["…",…]},"sig":"…"}
//
// where sig is base64url of the Ed25519 signature over
// "onebook revocations v2\x00" || the bytes of the "list" value exactly as
// they appear. seq is the ledger sequence of the newest revocation the list
// reflects; issued and not_after (the first second the list is stale) are
// unix seconds; passes are sorted, each at most once. A scanner keeps the
// newest list by (seq, issued) and warns its operator once its list is
// stale. Version 1 ("onebook revocations v1\x00") carried each revocation's
// time and reason and is no longer accepted.
//
// # Denials
//
// Verify checks, in this order, the structure (ReasonMalformed), the key and
// the signature (ReasonForged), the validity window (ReasonNotYetValid,
// ReasonExpired) and the revocation list (ReasonRevoked), and reports the
// first failure as a *Denied. Whether the pass belongs to the gate's community
// is the caller's check (Claims.CheckCommunity, ReasonWrongCommunity).
//
// The package is pure: no I/O, no clock, no package-level mutable state.
package passtoken
