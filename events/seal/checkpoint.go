package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// Checkpoint is a commitment to the ledger's first Size events: the root
// hash of the RFC 6962 Merkle tree over them, named by the log's origin.
type Checkpoint struct {
	Origin string    // the log's identity, e.g. "onebook.example.org/ledger"; also the signing key's name
	Size   uint64    // number of leaves (events)
	Hash   tlog.Hash // RFC 6962 Merkle tree hash of the first Size leaves
}

// Tree is the checkpoint as tlog sees it.
func (c Checkpoint) Tree() tlog.Tree { return tlog.Tree{N: int64(c.Size), Hash: c.Hash} }

// emptyHash is the RFC 6962 §2.1 hash of the empty tree, SHA-256("").
var emptyHash = tlog.Hash(sha256.Sum256(nil))

// FormatCheckpoint returns the checkpoint body in the C2SP tlog-checkpoint
// format: the origin, the decimal tree size and the standard base64 root
// hash, each on its own line. No extension lines are written.
func FormatCheckpoint(c Checkpoint) string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// ParseCheckpoint parses a C2SP tlog-checkpoint body. It accepts and
// ignores extension lines after the root hash, as the format allows, but
// is otherwise strict: the size is canonical decimal and the hash exactly
// 32 bytes of padded standard base64, so that one checkpoint has one text.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, events.Invalid("checkpoint", "checkpoint does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return c, events.Invalid("checkpoint", "checkpoint has %d lines, want at least 3", len(lines))
	}
	for _, l := range lines[3:] {
		if l == "" {
			return c, events.Invalid("checkpoint", "checkpoint has an empty extension line")
		}
	}
	c.Origin = lines[0]
	if c.Origin == "" {
		return c, events.Invalid("checkpoint", "checkpoint origin is empty")
	}
	size, err := strconv.ParseUint(lines[1], 10, 63)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return c, events.Invalid("checkpoint", "checkpoint size %q is not a canonical decimal number", lines[1])
	}
	c.Size = size
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return c, events.Invalid("checkpoint", "checkpoint root hash %q is not 32 bytes of base64", lines[2])
	}
	copy(c.Hash[:], h)
	return c, nil
}

// Sign returns the checkpoint as a signed note (C2SP signed-note): the body
// of FormatCheckpoint followed by a blank line and the signature line.
func Sign(c Checkpoint, signer note.Signer) ([]byte, error) {
	if c.Origin == "" || strings.ContainsAny(c.Origin, "\n") {
		return nil, events.Invalid("origin", "checkpoint origin %q is empty or spans lines", c.Origin)
	}
	msg, err := note.Sign(&note.Note{Text: FormatCheckpoint(c)}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint of size %d: %w", c.Size, err)
	}
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint note and parses it. It fails
// unless the note carries a valid signature by one of verifiers (signatures
// by unknown keys are ignored, as signed-note prescribes) and the
// checkpoint's origin is origin. Errors have code events.CodeInvalid and wrap
// the note package's error (*note.UnverifiedNoteError when no known key
// signed, *note.InvalidSignatureError when a known key's signature is bad).
func OpenCheckpoint(msg []byte, verifiers note.Verifiers, origin string) (Checkpoint, *note.Note, error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return Checkpoint{}, nil, &events.Error{Code: events.CodeInvalid, Field: "checkpoint", Message: "checkpoint signature does not verify", Err: err}
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != origin {
		return Checkpoint{}, nil, events.Invalid("checkpoint", "checkpoint origin is %q, want %q", c.Origin, origin)
	}
	return c, n, nil
}

// GenerateKey returns a new Ed25519 signing key for checkpoints named name
// (the log's origin) in the signed-note formats: skey is
// "PRIVATE+KEY+<name>+<hash>+<base64>" and must be kept secret; vkey is the
// verifier key "<name>+<hash>+<base64>" to publish (GET /ledger/key).
func GenerateKey(name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("generate checkpoint key %q: %w", name, err)
	}
	return skey, vkey, nil
}

// LoadSigner parses a signing key as written by GenerateKey and returns the
// signer and its verifier key. Surrounding white space (a trailing newline
// in a key file) is ignored.
func LoadSigner(skey string) (note.Signer, string, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		// Never echo the key itself: it is the secret.
		return nil, "", fmt.Errorf("checkpoint signing key: %w", err)
	}
	_, priv, err := PrivateKey(skey)
	if err != nil {
		return nil, "", err
	}
	vkey, err := note.NewEd25519VerifierKey(s.Name(), priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, "", fmt.Errorf("checkpoint verifier key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || v.KeyHash() != s.KeyHash() {
		return nil, "", fmt.Errorf("checkpoint signing key: derived verifier key does not match")
	}
	return s, vkey, nil
}

// PrivateKey returns the name and the Ed25519 private key of a signing key
// as written by GenerateKey, for signers note.Signer cannot express (a
// witness's cosignature/v1 signs a timestamped message with the same key).
// note has no accessor for the key; it is derived from the seed.
func PrivateKey(skey string) (string, ed25519.PrivateKey, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey) // checks the encoding and the key hash
	if err != nil {
		return "", nil, fmt.Errorf("signing key: %w", err)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64>: names have no '+', base64 may.
	f := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(f[len(f)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 0x01 {
		return "", nil, fmt.Errorf("signing key: not an Ed25519 key")
	}
	return s.Name(), ed25519.NewKeyFromSeed(raw[1:]), nil
}

// samePrefix reports whether a is a prefix of b or b a prefix of a.
func samePrefix(a, b []byte) bool {
	n := min(len(a), len(b))
	return bytes.Equal(a[:n], b[:n])
}
