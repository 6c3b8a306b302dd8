// Package witnesspush is the log side of C2SP tlog-witness
// (https://c2sp.org/tlog-witness): it pushes every new signed checkpoint to
// each configured witness's add-checkpoint endpoint, with a consistency
// proof from the size that witness last cosigned, and stores the
// cosignature/v1 lines the witness answers with in the seal's cosignature
// store, which serves them on the checkpoint routes.
//
// One pusher runs per ledger (in the sealer's leased worker). It keeps no
// state of its own: it starts every witness at "old 0" and the witness's
// 409 answer (Content-Type text/x.tlog.size) tells it the size to prove
// consistency from.
package witnesspush

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
)

// Target is one witness: its verifier key and base URL.
type Target struct {
	Key string // cosignature/v1 verifier key
	URL string // base URL; requests go to URL + "/add-checkpoint"
}

// Log is what the pusher needs of the ledger's seal.
type Log interface {
	// Checkpoint returns the latest signed checkpoint.
	Checkpoint(ctx context.Context) (seal.SignedCheckpoint, error)
	// ProveConsistency proves the tree of size old a prefix of size new.
	ProveConsistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error)
}

// Store keeps cosignatures (seal.Cosignatures).
type Store interface {
	// Add verifies and stores the cosignatures on a checkpoint note.
	Add(ctx context.Context, msg []byte) (uint64, []string, error)
}

// Config configures a pusher.
type Config struct {
	Witnesses []Target
	Log       Log
	Store     Store
	Client    *http.Client  // default: 30 s timeout
	Poll      time.Duration // how often to look for a new checkpoint; default 250 ms
	MaxWait   time.Duration // longest backoff after failures; default 1 min
	Logger    *slog.Logger
}

// Run pushes checkpoints to every witness until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil || cfg.Store == nil {
		return errors.New("witnesspush: Log and Store are required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var wg sync.WaitGroup
	for _, t := range cfg.Witnesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &witness{cfg: cfg, t: t, log: cfg.Logger.With("component", "witnesspush", "witness", t.URL)}
			w.run(ctx)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

type witness struct {
	cfg  Config
	t    Target
	log  *slog.Logger
	old  uint64 // the size the witness holds, as far as we know
	done uint64 // the largest size it cosigned for us
}

func (w *witness) run(ctx context.Context) {
	wait := time.Second
	for ctx.Err() == nil {
		cp, err := w.cfg.Log.Checkpoint(ctx)
		if err == nil && cp.Size > w.done {
			err = w.push(ctx, cp)
			if err != nil {
				w.log.Warn("add-checkpoint failed; retrying", "size", cp.Size, "old", w.old, "retry_in", wait, "err", err)
				if !sleep(ctx, wait) {
					return
				}
				wait = min(2*wait, w.cfg.MaxWait)
				continue
			}
			wait = time.Second
			continue
		}
		if err != nil && events.ErrorCode(err) != events.CodeNotFound {
			w.log.Warn("read latest checkpoint", "err", err)
		}
		if !sleep(ctx, w.cfg.Poll) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// push sends cp to the witness, following at most one 409 correction of
// the old size, and stores the cosignatures it returns.
func (w *witness) push(ctx context.Context, cp seal.SignedCheckpoint) error {
	for attempt := 0; ; attempt++ {
		if w.old > cp.Size {
			return fmt.Errorf("the witness holds size %d, larger than our checkpoint of size %d", w.old, cp.Size)
		}
		body, err := w.body(ctx, cp)
		if err != nil {
			return err
		}
		status, resp, ctype, err := w.post(ctx, body)
		if err != nil {
			return err
		}
		switch {
		case status == http.StatusOK:
			return w.store(ctx, cp, resp)
		case status == http.StatusConflict && strings.HasPrefix(ctype, "text/x.tlog.size") && attempt == 0:
			n, err := strconv.ParseUint(strings.TrimSpace(string(resp)), 10, 63)
			if err != nil {
				return fmt.Errorf("409 with a malformed size %q", resp)
			}
			w.log.Info("witness holds another size; resending", "witness_size", n, "sent_old", w.old)
			w.old = n
			continue
		default:
			return fmt.Errorf("status %d: %s", status, bytes.TrimSpace(resp[:min(len(resp), 200)]))
		}
	}
}

// body is the add-checkpoint request: "old N", the consistency proof lines,
// a blank line and the signed checkpoint.
func (w *witness) body(ctx context.Context, cp seal.SignedCheckpoint) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", w.old)
	if w.old > 0 && w.old < cp.Size {
		proof, err := w.cfg.Log.ProveConsistency(ctx, w.old, cp.Size)
		if err != nil {
			return nil, fmt.Errorf("consistency proof %d→%d: %w", w.old, cp.Size, err)
		}
		for _, h := range proof {
			b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(cp.Note)
	return b.Bytes(), nil
}

func (w *witness) post(ctx context.Context, body []byte) (int, []byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.t.URL+"/add-checkpoint", bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", fmt.Errorf("add-checkpoint request: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	res, err := w.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, "", fmt.Errorf("add-checkpoint: %w", err)
	}
	defer res.Body.Close()
	resp, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return 0, nil, "", fmt.Errorf("add-checkpoint response: %w", err)
	}
	return res.StatusCode, resp, res.Header.Get("Content-Type"), nil
}

// store adds the witness's signature lines to the checkpoint's text and
// hands the note to the store, which verifies them with the configured keys.
func (w *witness) store(ctx context.Context, cp seal.SignedCheckpoint, resp []byte) error {
	text, _, ok := bytes.Cut(cp.Note, []byte("\n\n"))
	if !ok || len(bytes.TrimSpace(resp)) == 0 {
		return fmt.Errorf("the witness answered 200 with no cosignature")
	}
	msg := append(append(append([]byte(nil), text...), "\n\n"...), resp...)
	if !bytes.HasSuffix(msg, []byte("\n")) {
		msg = append(msg, '\n')
	}
	_, names, err := w.cfg.Store.Add(ctx, msg)
	if err != nil {
		return fmt.Errorf("store cosignature of size %d: %w", cp.Size, err)
	}
	w.log.Debug("cosigned", "size", cp.Size, "witnesses", names)
	w.old, w.done = cp.Size, cp.Size
	return nil
}

// Request is an add-checkpoint request as a witness reads it: the inverse
// of what the log side sends.
type Request struct {
	Old   uint64
	Proof tlog.TreeProof
	Text  []byte // the checkpoint text, with its final newline
	Sigs  []byte // the note's signature lines
}

// MaxProof is the most consistency proof lines a request may carry
// (C2SP tlog-witness: "MUST NOT send more than 63").
const MaxProof = 63

// ParseRequest reads an add-checkpoint request body (C2SP tlog-witness):
// "old N" (decimal, no leading zeroes), at most MaxProof base64 proof lines,
// a blank line and the signed note. Every line ends in a newline.
func ParseRequest(r io.Reader) (Request, error) {
	br := bufio.NewReader(r)
	first, err := br.ReadString('\n')
	if err != nil {
		return Request{}, errors.New("truncated before the old size line")
	}
	num, ok := strings.CutPrefix(strings.TrimSuffix(first, "\n"), "old ")
	old, err := strconv.ParseUint(num, 10, 64)
	if !ok || err != nil || strconv.FormatUint(old, 10) != num {
		return Request{}, errors.New(`the first line is not "old <size>"`)
	}
	req := Request{Old: old}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return Request{}, errors.New("truncated before the blank line")
		}
		if l == "\n" {
			break
		}
		if len(req.Proof) == MaxProof {
			return Request{}, fmt.Errorf("more than %d proof lines", MaxProof)
		}
		h, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(l, "\n"))
		if err != nil || len(h) != tlog.HashSize {
			return Request{}, fmt.Errorf("proof line %d is not a base64 hash", len(req.Proof)+1)
		}
		req.Proof = append(req.Proof, tlog.Hash(h))
	}
	msg, err := io.ReadAll(br)
	if err != nil {
		return Request{}, fmt.Errorf("read the checkpoint: %w", err)
	}
	text, sigs, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok || len(sigs) == 0 || !bytes.HasSuffix(sigs, []byte("\n")) {
		return Request{}, errors.New("the checkpoint is not a signed note")
	}
	req.Text, req.Sigs = append(text, '\n'), sigs
	return req, nil
}
