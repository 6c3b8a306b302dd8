// Package passtoken is the personal QR pass of the entry/exit service (出入通):
// a compact token signed with Ed25519 (RFC 8032) that a scanner phone can
// check offline, holding only the public keys and the revocation list, both
// served by the backend and both signed.
//
// # Token, format version 2
//
// A token is the text prefix "OB2." followed by 99 bytes in base64url without
// padding (RFC 4648 §5): 136 ASCII characters in all. The bytes are, with
// every integer big-endian:
//
//	offset  size  field
//	     0     1  format version, 0x02
//	     1     4  key id: the first 4 bytes of SHA-256("onebook pass key v1\x00" || public key)
//	     5    16  token id of the pass (see below)
//	    21     1  holder kind: 0x00 resident, 0x01 visitor; other values are malformed
//	    22     5  community: the 12-digit region code read as a decimal number
//	              (< 10^12 < 2^40), e.g. 110105001001 = 0x19a2c4fc29
//	    27     4  not-before, unix seconds: first second of validity
//	    31     4  not-after, unix seconds: first second of invalidity (exclusive)
//	    35    64  Ed25519 signature over "onebook pass v2\x00" || bytes 0..34
//
// The domain-separation prefix "onebook pass v2\x00" (16 bytes) is signed but
// not carried, so no other message signed by the same key (a revocation list
// is signed under "onebook revocations v3\x00") can pass for a token. Every
// field has exactly one encoding and the signature is checked with the
// strict Ed25519 rules of crypto/ed25519 (S < L), so an accepted token
// string is exactly the one its signer produced: the token can serve as its
// own identity.
//
// The token id is the pass's pseudonym in the QR domain: the issuer (the
// backend) derives it from the pass id with a key only it holds (a keyed
// permutation of the 16 bytes, backend/personal.IDPermutation with
// DomainQR), and goes back from it to the pass when a gate scans online. It
// is neither equal to nor computable from the pass id, which is the
// aggregate id of the pass's pass.issued and pass.revoked events in the
// public ledger: whoever sees a QR code cannot find that pass's events (its
// community, when it was issued, when revoked). Every token of one pass
// carries the same token id, which the revocation list names. A token
// carries no personal data. This package treats the token id as 16 opaque
// bytes.
//
// A token is valid at time t when NotBefore <= t < NotAfter and t is before
// its key's NotAfter. Times are whole seconds up to 2106-02-07T06:28:15Z.
// The token fits a QR code of version 8 at error-correction level M (byte
// mode); issue 4 requires version 10 or less.
//
// # Format 1, read but no longer issued
//
// A format-1 token has the prefix "OB1.", version byte 0x01, the same layout
// with the pass id itself (the UUID's 16 bytes) at offset 5, and is signed
// under "onebook pass v1\x00". Issue no longer makes one; Parse and Verify
// read it, with Claims.PassID set instead of TokenID, so that the tokens
// issued before format 2 keep opening gates online until they expire (24 h
// for a resident's token, the visit's end for a visitor's): the backend
// checks their pass against its own state. A revocation list names token
// ids and cannot clear a format-1 token, so Verify against a list (an
// offline scanner) refuses one as ReasonOutdated: its holder refreshes the
// pass in the mini-program, which gets a format-2 token.
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
// A RevocationList names the token ids of revoked passes and nothing else
// about them (not why, not when, not the pass id). The backend signs it with its current Signer (SignList)
// when it changes and serves the same bytes until then; scanners check it
// with VerifyList against the KeySet. The signed form is compact JSON,
//
//	{"kid":"…","list":{"seq":…,"issued":…,"not_after":…,"tokens":["…",…]},"sig":"…"}
//
// where sig is base64url of the Ed25519 signature over
// "onebook revocations v3\x00" || the bytes of the "list" value exactly as
// they appear. seq is the ledger sequence of the newest revocation the list
// reflects; issued and not_after (the first second the list is stale) are
// unix seconds; tokens are token ids, 32 lower-case hex digits, sorted, each
// at most once. A scanner keeps the
// newest list by (seq, issued) and warns its operator once its list is
// stale. Version 1 ("onebook revocations v1\x00") carried each revocation's
// time and reason, version 2 ("onebook revocations v2\x00") pass ids; neither
// is accepted any more.
//
// # Denials
//
// Verify checks, in this order, the structure (ReasonMalformed), the key and
// the signature (ReasonForged), the validity window (ReasonNotYetValid,
// ReasonExpired) and the revocation list (ReasonOutdated for format 1,
// ReasonRevoked), and reports the
// first failure as a *Denied. Whether the pass belongs to the gate's community
// is the caller's check (Claims.CheckCommunity, ReasonWrongCommunity).
//
// The package is pure: no I/O, no clock, no package-level mutable state.
package passtoken
