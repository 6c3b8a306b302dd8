// Package witness is the witness side of C2SP tlog-witness
// (https://c2sp.org/tlog-witness): an HTTP server answering
// POST /add-checkpoint for the logs it is configured with, cosigning with
// C2SP cosignature/v1 (https://c2sp.org/tlog-cosignature).
//
// For each log (identified by its origin line, trusted through the verifier
// key it is configured with) it keeps the latest checkpoint it cosigned and
// cosigns a new one only if the log's signature verifies, the request's
// old size is that checkpoint's size, and an RFC 6962 consistency proof
// leads from it to the new one. So it never cosigns two checkpoints that
// are not one history: a fork (another root for the size it holds, or a
// proof that does not verify) and a rollback (a smaller tree) are refused,
// and the checkpoints and proof that show them are kept in its state
// directory as evidence.
//
// The check of the old size and the write of the new state happen under
// one lock per origin (the compare-and-swap the specification requires),
// and the state is on disk (written to a temporary file, synced, renamed,
// directory synced) before the cosignature leaves: a crash never forgets a
// size it cosigned, so it can never later cosign a fork of it.
package witness

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/witnesspush"
)

// Log is a log the witness cosigns.
type Log struct {
	Origin string        // the checkpoints' origin line
	Key    note.Verifier // the log's checkpoint key
}

// ParseLog reads a log as configured: "<origin>=<verifier key>", or a bare
// verifier key whose name is the origin (as onebook's is). The key is a
// signed-note Ed25519 verifier key; base64 may end in '=', so the origin
// is everything before the first '=' only when what follows is a key.
func ParseLog(s string) (Log, error) {
	s = strings.TrimSpace(s)
	if origin, vkey, ok := strings.Cut(s, "="); ok {
		if v, err := note.NewVerifier(vkey); err == nil {
			return newLog(origin, v)
		}
	}
	v, err := note.NewVerifier(s)
	if err != nil {
		return Log{}, fmt.Errorf("log %q: want <origin>=<verifier key> or a verifier key: %w", s, err)
	}
	return newLog(v.Name(), v)
}

func newLog(origin string, v note.Verifier) (Log, error) {
	if origin == "" || origin == "." || origin == ".." || strings.ContainsAny(origin, "\n\x00") {
		return Log{}, fmt.Errorf("log origin %q is not usable", origin)
	}
	return Log{Origin: origin, Key: v}, nil
}

// Config configures a witness.
type Config struct {
	// Key is the witness's signing key as written by seal.GenerateKey
	// ("PRIVATE+KEY+<name>+<hash>+<base64>"); its Ed25519 key signs
	// cosignature/v1, under the key's name.
	Key   string
	Logs  []Log
	Dir   string           // state directory
	Now   func() time.Time // default time.Now; the cosignatures' timestamps
	Log   *slog.Logger
	Limit int64 // largest request body; default 64 KiB
}

// Witness cosigns checkpoints. It is an http.Handler.
type Witness struct {
	name  string
	key   ed25519.PrivateKey
	vkey  string
	logs  map[string]*logState
	now   func() time.Time
	log   *slog.Logger
	limit int64
}

// logState is one log's lock and state. mu is held from reading the
// cosigned size to writing the new one.
type logState struct {
	Log
	dir string

	mu   sync.Mutex
	have bool // cosigned anything yet
	cp   seal.Checkpoint
	note []byte // the log's signed note of cp, as it was submitted
}

// New opens (creating if needed) the state of every configured log and
// returns the witness.
func New(cfg Config) (*Witness, error) {
	name, key, err := seal.PrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("witness key: %w", err)
	}
	if len(cfg.Logs) == 0 {
		return nil, errors.New("no logs to witness")
	}
	if cfg.Dir == "" {
		return nil, errors.New("no state directory")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Limit <= 0 {
		cfg.Limit = 64 << 10
	}
	plain, err := note.NewEd25519VerifierKey(name, key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("witness key: %w", err)
	}
	own, err := note.NewVerifier(plain)
	if err != nil {
		return nil, fmt.Errorf("witness key: %w", err)
	}
	w := &Witness{name: name, key: key, vkey: seal.CosigV1Key(name, key.Public().(ed25519.PublicKey)),
		logs: map[string]*logState{}, now: cfg.Now, log: cfg.Log, limit: cfg.Limit}
	for _, l := range cfg.Logs {
		if _, dup := w.logs[l.Origin]; dup {
			return nil, fmt.Errorf("log %s is configured twice", l.Origin)
		}
		if l.Key.Name() == name && l.Key.KeyHash() == own.KeyHash() {
			return nil, fmt.Errorf("log %s: the witness key is the log's own key; a witness needs a key of its own", l.Origin)
		}
		ls := &logState{Log: l, dir: stateDir(cfg.Dir, l.Origin)}
		if err := ls.open(cfg.Dir, cfg.Log); err != nil {
			return nil, err
		}
		w.logs[l.Origin] = ls
	}
	return w, nil
}

// stateDir is the directory of one log's state: the origin, path-escaped
// (origins are URLs without a scheme, "example.org/log").
func stateDir(dir, origin string) string {
	return filepath.Join(dir, url.PathEscape(origin))
}

// VerifierKey is the witness's cosignature/v1 verifier key, the one to
// give to the logs it witnesses and to clients that require it.
func (w *Witness) VerifierKey() string { return w.vkey }

// Latest returns the latest checkpoint cosigned for origin (the log's
// signed note); ok is false if none was yet.
func (w *Witness) Latest(origin string) (seal.Checkpoint, []byte, bool) {
	ls, found := w.logs[origin]
	if !found {
		return seal.Checkpoint{}, nil, false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.cp, append([]byte(nil), ls.note...), ls.have
}

// Error is a refusal, with the HTTP status C2SP tlog-witness gives it.
type Error struct {
	Status int // 400, 403, 404, 409, 422, 500
	// Stale marks the 409 for an old size that is not the size held: its
	// body is that Size (Content-Type text/x.tlog.size), from which the
	// log resends. The other 409, another root at the size held, carries
	// no size: resending from it could not help, and clients (the
	// reference witness's own) read a 409 with a size as "resend".
	Stale bool
	Size  uint64 // with Stale: the size of the latest cosigned checkpoint
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

func refuse(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers POST /add-checkpoint.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/add-checkpoint" {
		http.NotFound(rw, r)
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "add-checkpoint takes a POST", http.StatusMethodNotAllowed)
		return
	}
	sigs, err := w.AddCheckpoint(r.Context(), http.MaxBytesReader(rw, r.Body, w.limit))
	var e *Error
	switch {
	case errors.As(err, &e) && e.Stale:
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", e.Size)
	case errors.As(err, &e):
		http.Error(rw, e.Msg, e.Status)
	case err != nil:
		w.log.Error("add-checkpoint", "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(sigs)
	}
}

// AddCheckpoint reads an add-checkpoint request body and returns the
// witness's cosignature line(s) on the checkpoint, or an *Error saying
// why not. The checks and their order follow C2SP tlog-witness.
func (w *Witness) AddCheckpoint(ctx context.Context, body io.Reader) ([]byte, error) {
	sub, err := w.read(body)
	if err != nil {
		return nil, err
	}
	ls, cp, msg := sub.ls, sub.cp, sub.msg
	ls.mu.Lock()
	defer ls.mu.Unlock()
	held := ls.cp
	if !ls.have {
		held = seal.Checkpoint{Origin: ls.Origin, Hash: emptyTree()}
	}
	if err := w.judge(sub, held); err != nil {
		return nil, err
	}
	if !ls.have || cp.Size != held.Size {
		if err := writeState(ls.dir, msg); err != nil {
			return nil, fmt.Errorf("save the state of %s: %w", ls.Origin, err)
		}
		ls.have, ls.cp, ls.note = true, cp, msg
	}
	ts := uint64(w.now().Unix())
	return []byte(seal.SignCosigV1(w.name, w.key, sub.req.Text, ts)), nil
}

// submission is an add-checkpoint request that passed the checks which
// need no state of the log: a log this witness knows, signed by its key,
// an old size no larger than the checkpoint's.
type submission struct {
	req witnesspush.Request
	raw []byte          // the request body, kept as evidence
	msg []byte          // the checkpoint as a signed note
	cp  seal.Checkpoint // the checkpoint parsed
	ls  *logState
}

// read reads and checks an add-checkpoint request body.
func (w *Witness) read(body io.Reader) (submission, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return submission{}, refuse(http.StatusRequestEntityTooLarge, "request body over %d bytes", tooBig.Limit)
		}
		return submission{}, refuse(http.StatusBadRequest, "read the request: %v", err)
	}
	req, err := witnesspush.ParseRequest(bytes.NewReader(raw))
	if err != nil {
		return submission{}, refuse(http.StatusBadRequest, "%v", err)
	}
	origin, _, _ := bytes.Cut(req.Text, []byte("\n"))
	ls, found := w.logs[string(origin)]
	if !found {
		return submission{}, refuse(http.StatusNotFound, "unknown log %q", origin)
	}
	msg := append(append(append([]byte(nil), req.Text...), '\n'), req.Sigs...)
	if _, err := note.Open(msg, note.VerifierList(ls.Key)); err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return submission{}, refuse(http.StatusForbidden, "no valid signature by %s's key", ls.Origin)
		}
		return submission{}, refuse(http.StatusBadRequest, "the checkpoint is not a signed note: %v", err)
	}
	cp, err := seal.ParseCheckpoint(string(req.Text))
	if err != nil {
		return submission{}, refuse(http.StatusBadRequest, "%v", err)
	}
	if req.Old > cp.Size {
		return submission{}, refuse(http.StatusBadRequest, "old size %d is larger than the checkpoint's size %d", req.Old, cp.Size)
	}
	return submission{req: req, raw: raw, msg: msg, cp: cp, ls: ls}, nil
}

// judge decides, with the log's state locked, whether the submitted
// checkpoint may be cosigned after held, the one cosigned before (the
// empty tree at first), and keeps the evidence of a rollback or a fork.
func (w *Witness) judge(sub submission, held seal.Checkpoint) error {
	ls, cp, req := sub.ls, sub.cp, sub.req
	ev := evidence{dir: ls.dir, held: ls.note, got: sub.msg, req: sub.raw, now: w.now()}
	stale := &Error{Status: http.StatusConflict, Stale: true, Size: held.Size, Msg: "old size is not the size cosigned"}
	switch {
	case cp.Size < held.Size:
		// A signed tree smaller than one the log had shown: a rollback,
		// or a stale checkpoint sent late. Either way, never cosigned.
		// (old ≤ cp.Size < held.Size: the old size is stale too.)
		ev.keep(w.log, "rollback", cp, fmt.Sprintf("a checkpoint of size %d, smaller than size %d cosigned before", cp.Size, held.Size))
		return stale
	case cp.Size == 0 && cp.Hash != emptyTree():
		// C2SP tlog-witness (editor's draft; RFC 6962 §2.1 in any
		// version): the tree of size 0 has the empty tree's root, else 422.
		ev.keep(w.log, "fork", cp, fmt.Sprintf("a checkpoint of size 0 whose root %s is not the empty tree's", cp.Hash))
		return refuse(http.StatusUnprocessableEntity, "a checkpoint of size 0 has the empty tree's root")
	case cp.Size == held.Size && cp.Hash != held.Hash:
		ev.keep(w.log, "fork", cp, fmt.Sprintf("two checkpoints of size %d with different roots (%s cosigned, %s now)", cp.Size, held.Hash, cp.Hash))
		if req.Old != held.Size {
			return stale
		}
		return refuse(http.StatusConflict, "fork: another root for size %d, which this witness cosigned", held.Size)
	case req.Old != held.Size:
		return stale
	case cp.Size == held.Size:
		if len(req.Proof) != 0 {
			return refuse(http.StatusUnprocessableEntity, "a proof between equal sizes is empty")
		}
		// The very checkpoint cosigned before: cosign it again.
	case req.Old == 0:
		if len(req.Proof) != 0 {
			return refuse(http.StatusUnprocessableEntity, "the proof from size 0 is empty")
		}
		w.log.Warn("first checkpoint of a log: cosigned on trust", "origin", ls.Origin, "size", cp.Size, "root", cp.Hash.String())
	default:
		if err := tlog.CheckTree(req.Proof, int64(cp.Size), cp.Hash, int64(held.Size), held.Hash); err != nil {
			ev.keep(w.log, "fork", cp, fmt.Sprintf("the checkpoint of size %d is not consistent with size %d cosigned before: %v", cp.Size, held.Size, err))
			return refuse(http.StatusUnprocessableEntity, "the consistency proof from size %d does not verify", held.Size)
		}
	}
	return nil
}

// emptyTree is the RFC 6962 root of the empty tree, SHA-256("").
func emptyTree() tlog.Hash { return tlog.Hash(sha256.Sum256(nil)) }

// evidence is what a refused request leaves behind.
type evidence struct {
	dir       string
	held, got []byte // the checkpoint cosigned before, and the one submitted
	req       []byte // the whole request (old size, proof, checkpoint)
	now       time.Time
}

// keep writes the evidence once per kind, size and root (the log retries
// the same request).
func (e evidence) keep(log *slog.Logger, kind string, cp seal.Checkpoint, what string) {
	log.Error("LOG MISBEHAVIOUR, NOT COSIGNED: "+what, "origin", cp.Origin)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%s: %s\n\n# checkpoint cosigned by this witness before:\n%s\n# checkpoint submitted:\n%s\n# the whole add-checkpoint request:\n%s",
		e.now.UTC().Format(time.RFC3339), kind, what, e.held, e.got, e.req)
	file := "evidence-" + kind + "-" + strconv.FormatUint(cp.Size, 10) + "-" + fmt.Sprintf("%x", cp.Hash[:6]) + ".txt"
	path, err := writeEvidence(e.dir, file, b.Bytes())
	if err != nil {
		log.Error("could not write the evidence", "err", err)
		return
	}
	log.Error("evidence kept", "file", path)
}
