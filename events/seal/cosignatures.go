package seal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
)

// Witnesses cosign checkpoints (C2SP tlog-witness model): a witness is
// another party (a city CDC, an auditor) holding its own signed-note key. It
// fetches the latest checkpoint, checks onebook's signature and a consistency
// proof from the last checkpoint it cosigned, and only then adds its own
// signature line to the very same note and submits it. A checkpoint served
// with cosignatures is a signed note with several signature lines: clients
// that know only onebook's key still verify it (note.Open ignores signatures
// by unknown keys), and clients that also know the witnesses' keys learn that
// those witnesses saw this checkpoint and found it consistent with their view
// of the log: onebook cannot show them different histories (a split view)
// without one of them noticing.
//
// Two kinds of witness key are accepted. A C2SP cosignature/v1 key (type
// 0x04) signs "cosignature/v1\ntime <ts>\n<checkpoint>" with a timestamp
// (https://c2sp.org/tlog-cosignature); such witnesses are pushed checkpoints
// by the witnesspush package (C2SP tlog-witness). A plain signed-note
// Ed25519 key (type 0x01, onebook's older protocol) signs the checkpoint
// text, and its witness submits to POST /ledger/cosignatures; those stay
// readable and accepted.
//
// They are stored in a JetStream KV bucket, one key per tree size and
// witness: "<size>.<witness id>", where the witness id is the first 8 bytes,
// hex, of SHA-256 of its verifier key; the value is the signature line as it
// appears in the note ("— <name> <base64>\n").

// CosignaturesConfig configures the cosignature store.
type CosignaturesConfig struct {
	Bucket   string // JetStream KV bucket; default "ledger_cosignatures"
	Replicas int    // 1 on a single machine, 3 in a cluster
	// Witnesses are the verifier keys ("<name>+<hash>+<base64>") of the
	// witnesses whose cosignatures are accepted and served. Cosignatures
	// stored by a witness no longer listed are ignored.
	Witnesses []string
	Logger    *slog.Logger
}

// Witness is a configured witness.
type Witness struct {
	Name string // the name of its key
	Key  string // its verifier key
	id   string // key in the bucket
	v    note.Verifier
}

// Cosignatures stores and serves witness cosignatures of the checkpoints in
// a Checkpoints stream.
type Cosignatures struct {
	kv        jetstream.KeyValue
	cps       *Checkpoints
	witnesses []Witness
	verifiers note.Verifiers
	log       *slog.Logger
}

// Cosignature is one stored cosignature.
type Cosignature struct {
	Size    uint64
	Witness string    // the witness's key name
	Line    string    // the signature line, "— <name> <base64>\n"
	Time    time.Time // when it was stored
}

// ParseWitnesses checks a list of witness verifier keys.
func ParseWitnesses(keys []string) ([]Witness, error) {
	var ws []Witness
	seen := map[string]bool{}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		v, err := NewWitnessVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("witness verifier key %q: %w", k, err)
		}
		sum := sha256.Sum256([]byte(k))
		w := Witness{Name: v.Name(), Key: k, id: hex.EncodeToString(sum[:8]), v: v}
		nh := fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
		if seen[nh] {
			return nil, fmt.Errorf("witness %s is listed twice", nh)
		}
		seen[nh] = true
		ws = append(ws, w)
	}
	return ws, nil
}

// OpenCosignatures creates the cosignature bucket if needed and returns the
// store of cosignatures of the checkpoints in cps.
func OpenCosignatures(ctx context.Context, js jetstream.JetStream, cps *Checkpoints, cfg CosignaturesConfig) (*Cosignatures, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "ledger_cosignatures"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       cfg.Bucket,
		Description:  "onebook ledger seal: witness cosignatures of checkpoints",
		History:      1,
		Storage:      jetstream.FileStorage,
		Replicas:     cfg.Replicas,
		MaxValueSize: 4 << 10,
	})
	if err != nil {
		return nil, fmt.Errorf("cosignature bucket %s: %w", cfg.Bucket, err)
	}
	return newCosignatures(kv, cps, cfg)
}

// BindCosignatures returns the store over an existing cosignature bucket
// without creating or reconfiguring it (for checking tools). A missing
// bucket has code events.CodeNotFound.
func BindCosignatures(ctx context.Context, js jetstream.JetStream, cps *Checkpoints, cfg CosignaturesConfig) (*Cosignatures, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = "ledger_cosignatures"
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, events.Errorf(events.CodeNotFound, "no cosignature bucket %s", cfg.Bucket)
	}
	if err != nil {
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "cosignature bucket " + cfg.Bucket, Err: err}
	}
	return newCosignatures(kv, cps, cfg)
}

func newCosignatures(kv jetstream.KeyValue, cps *Checkpoints, cfg CosignaturesConfig) (*Cosignatures, error) {
	ws, err := ParseWitnesses(cfg.Witnesses)
	if err != nil {
		return nil, err
	}
	vs := make([]note.Verifier, len(ws))
	for i, w := range ws {
		vs[i] = w.v
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Cosignatures{kv: kv, cps: cps, witnesses: ws, verifiers: note.VerifierList(vs...), log: cfg.Logger.With("component", "cosignatures")}, nil
}

// Witnesses returns the configured witnesses.
func (c *Cosignatures) Witnesses() []Witness { return append([]Witness(nil), c.witnesses...) }

func cosigKey(size uint64, w Witness) string { return strconv.FormatUint(size, 10) + "." + w.id }

// Add verifies a checkpoint note cosigned by one or more configured
// witnesses and stores their cosignatures. The note's text must be exactly
// the text of the checkpoint of that size in the checkpoint stream; other
// signature lines (onebook's own, unknown witnesses') are ignored. It
// returns the tree size and the names of the witnesses whose cosignatures
// were stored.
//
// Errors: CodeForbidden when no configured witness signed the note,
// CodeInvalid for a malformed note or a bad signature by a configured
// witness, CodeNotFound when no checkpoint of that size was published,
// CodeConflict when the witness signed a different checkpoint of that size
// than the one onebook published.
func (c *Cosignatures) Add(ctx context.Context, msg []byte) (uint64, []string, error) {
	if len(c.witnesses) == 0 {
		return 0, nil, events.Errorf(events.CodeForbidden, "no witnesses are configured (ONEBOOK_WITNESSES)")
	}
	n, err := note.Open(msg, c.verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			var names []string
			for _, s := range unverified.Note.UnverifiedSigs {
				names = append(names, s.Name)
			}
			return 0, nil, &events.Error{Code: events.CodeForbidden, Message: fmt.Sprintf("the note is signed by no configured witness (signers: %s)", strings.Join(names, ", ")), Err: err}
		case errors.As(err, &invalid):
			return 0, nil, &events.Error{Code: events.CodeInvalid, Field: "cosignature", Message: fmt.Sprintf("the signature by witness %s does not verify", invalid.Name), Err: err}
		}
		return 0, nil, &events.Error{Code: events.CodeInvalid, Field: "cosignature", Message: "not a signed note", Err: err}
	}
	cp, err := ParseCheckpoint(n.Text)
	if err != nil {
		return 0, nil, err
	}
	if cp.Origin != c.cps.Origin() {
		return 0, nil, events.Invalid("checkpoint", "checkpoint origin is %q, want %q", cp.Origin, c.cps.Origin())
	}
	sc, err := c.cps.BySize(ctx, cp.Size)
	if err != nil {
		return 0, nil, err
	}
	if noteText(sc.Note) != n.Text {
		c.log.Error("a witness cosigned a checkpoint that differs from the published one",
			"size", cp.Size, "cosigned_root", cp.Hash.String(), "published_root", sc.Hash.String(), "witnesses", sigNames(n.Sigs))
		return 0, nil, events.Errorf(events.CodeConflict, "the cosigned checkpoint of size %d is not the one published (root %s, published %s)", cp.Size, cp.Hash, sc.Hash)
	}
	var names []string
	for _, s := range n.Sigs {
		w, ok := c.witness(s.Name, s.Hash)
		if !ok {
			continue // cannot happen: note.Open verified it with our list
		}
		line := "— " + s.Name + " " + s.Base64 + "\n"
		if _, err := c.kv.Put(ctx, cosigKey(cp.Size, w), []byte(line)); err != nil {
			return 0, nil, &events.Error{Code: events.CodeUnavailable, Message: "store cosignature", Err: err}
		}
		names = append(names, s.Name)
	}
	return cp.Size, names, nil
}

func (c *Cosignatures) witness(name string, hash uint32) (Witness, bool) {
	for _, w := range c.witnesses {
		if w.Name == name && w.v.KeyHash() == hash {
			return w, true
		}
	}
	return Witness{}, false
}

func sigNames(sigs []note.Signature) []string {
	out := make([]string, len(sigs))
	for i, s := range sigs {
		out[i] = s.Name
	}
	return out
}

// noteText is the text of a signed note: everything up to and including
// the newline before the blank line that starts the signatures.
func noteText(msg []byte) string {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return ""
	}
	return string(msg[:i+1])
}

// verifyLine checks a stored signature line by w over text.
func verifyLine(w Witness, text, line string) bool {
	rest, ok := strings.CutPrefix(line, "— "+w.Name+" ")
	if !ok || !strings.HasSuffix(rest, "\n") {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, "\n"))
	if err != nil || len(sig) < 5 || binary.BigEndian.Uint32(sig) != w.v.KeyHash() {
		return false
	}
	return w.v.Verify([]byte(text), sig[4:])
}

// For returns the stored cosignatures of the checkpoint of tree size size
// whose signed note is msg, by configured witnesses, in the order the
// witnesses are configured. Every one is verified over the checkpoint's
// text; one that does not verify (the bucket was written by someone else)
// is logged and left out.
func (c *Cosignatures) For(ctx context.Context, size uint64, msg []byte) ([]Cosignature, error) {
	text := noteText(msg)
	var out []Cosignature
	for _, w := range c.witnesses {
		e, err := c.kv.Get(ctx, cosigKey(size, w))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, &events.Error{Code: events.CodeUnavailable, Message: "read cosignatures", Err: err}
		}
		line := string(e.Value())
		if !verifyLine(w, text, line) {
			c.log.Error("stored cosignature does not verify; not served", "size", size, "witness", w.Name)
			continue
		}
		out = append(out, Cosignature{Size: size, Witness: w.Name, Line: line, Time: e.Created().UTC()})
	}
	return out, nil
}

// Attach returns the signed checkpoint note msg, of tree size size, with the
// stored cosignatures appended as further signature lines.
func (c *Cosignatures) Attach(ctx context.Context, msg []byte, size uint64) ([]byte, error) {
	cos, err := c.For(ctx, size, msg)
	if err != nil || len(cos) == 0 {
		return msg, err
	}
	out := append([]byte(nil), msg...)
	for _, co := range cos {
		if !bytes.Contains(msg, []byte(co.Line)) {
			out = append(out, co.Line...)
		}
	}
	return out, nil
}

// NoteAt returns the published checkpoint of tree size size with its
// cosignatures; CodeNotFound if no checkpoint of exactly that size was
// published.
func (c *Cosignatures) NoteAt(ctx context.Context, size uint64) ([]byte, error) {
	sc, err := c.cps.BySize(ctx, size)
	if err != nil {
		return nil, err
	}
	return c.Attach(ctx, sc.Note, size)
}

// All yields every stored cosignature by a configured witness, each checked
// against the published checkpoint of its size, in no particular order. A
// cosignature that does not verify, or of a size with no checkpoint, is
// yielded with an error of code CodeInvalid (and iteration goes on); other
// errors end it.
func (c *Cosignatures) All(ctx context.Context) iter.Seq2[Cosignature, error] {
	return func(yield func(Cosignature, error) bool) {
		byID := map[string]Witness{}
		for _, w := range c.witnesses {
			byID[w.id] = w
		}
		kw, err := c.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
		if err != nil {
			yield(Cosignature{}, &events.Error{Code: events.CodeUnavailable, Message: "read cosignatures", Err: err})
			return
		}
		defer kw.Stop()
		var entries []jetstream.KeyValueEntry
		for e := range kw.Updates() {
			if e == nil {
				break // initial values done
			}
			entries = append(entries, e)
		}
		for _, e := range entries {
			sizeStr, id, _ := strings.Cut(e.Key(), ".")
			w, ok := byID[id]
			if !ok {
				continue // a witness no longer configured
			}
			size, err := strconv.ParseUint(sizeStr, 10, 63)
			co := Cosignature{Size: size, Witness: w.Name, Line: string(e.Value()), Time: e.Created().UTC()}
			if err != nil {
				if !yield(co, events.Invalid("cosignature", "stored cosignature key %q is not <size>.<witness>", e.Key())) {
					return
				}
				continue
			}
			sc, err := c.cps.BySize(ctx, size)
			if events.ErrorCode(err) == events.CodeNotFound {
				err = events.Invalid("cosignature", "cosignature by %s of size %d, but no checkpoint of that size was published", w.Name, size)
			} else if err == nil && !verifyLine(w, noteText(sc.Note), co.Line) {
				err = events.Invalid("cosignature", "cosignature by %s of size %d does not verify", w.Name, size)
			}
			if !yield(co, err) || err != nil && events.ErrorCode(err) != events.CodeInvalid {
				return
			}
		}
	}
}
