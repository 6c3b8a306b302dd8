package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/miniapp-api/api"
)

// The pull-mode witness (ops witness run) is onebook's older witness
// protocol, kept for the witnesses that run it; new witnesses run
// ops witness serve (C2SP tlog-witness, see witness.go). A state
// directory of this witness can be handed to ops witness serve, which
// starts from the checkpoint cosigned here.
//
// A pull-mode witness is another party (a city CDC, an auditor) that cosigns
// onebook's checkpoints: it keeps
// the last checkpoint it cosigned, and cosigns a newer one only after
// checking onebook's signature and an RFC 6962 consistency proof from the
// one it holds. It never cosigns two checkpoints that are not one history:
// a fork (a different root for a size it cosigned, or a proof that does not
// verify) or a rollback (a smaller tree) stops it with exit status 3 and
// the evidence written to its state directory.
//
// It talks to onebook only over HTTP (GET /ledger/checkpoint, GET
// /ledger/proof/consistency, POST /ledger/cosignatures) and trusts only the
// verifier key it is given for onebook, never the one the server serves.
//
// Its cosignature is a plain Ed25519 signed-note signature (algorithm
// 0x01) by the witness's key over the checkpoint text: the served note
// verifies with note.Open and a verifier list holding onebook's key and the
// witness's. The timestamped C2SP cosignature/v1 format is not used here.

// witnessStateFile is the last checkpoint the witness cosigned, as the
// signed note with onebook's signature and the witness's.
const witnessStateFile = "checkpoint"

// misbehaved is the error of a witness that caught the log misbehaving
// (fork or rollback); ops exits with status 3.
type misbehaved struct{ msg string }

func (m misbehaved) Error() string { return "LOG MISBEHAVIOUR, NOT COSIGNED: " + m.msg }
func (m misbehaved) ExitCode() int { return 3 }

// pullWitness is one pull-mode witness talking to one log.
type pullWitness struct {
	base   string // the backend's URL, no trailing slash
	http   *http.Client
	signer note.Signer
	self   note.Verifier // the witness's own key
	origin note.Verifier // onebook's checkpoint key, as the witness was told
	dir    string        // state directory
	env    *environ
}

func witnessRun(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("witness run", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "onebook's base URL")
	keyFile := fs.String("key", "", "the witness's private key file (ops witness keygen)")
	dir := fs.String("state", "", "state directory: the last checkpoint cosigned, and evidence of misbehaviour")
	originKey := fs.String("origin-key", "", "onebook's checkpoint verifier key (name+hash+base64) or a file holding it; obtained from onebook's operator out of band")
	interval := fs.Duration("interval", 10*time.Second, "time between checks")
	once := fs.Bool("once", false, "check and cosign once, then exit")
	timeout := fs.Duration("timeout", 30*time.Second, "HTTP request timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || *dir == "" || *originKey == "" {
		return errors.New("--key, --state and --origin-key are required")
	}
	if _, err := url.Parse(*base); err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	skey, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("witness key: %w", err)
	}
	signer, vkey, err := seal.LoadSigner(string(skey))
	if err != nil {
		return fmt.Errorf("witness key %s: %w", *keyFile, err)
	}
	self, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	ok := *originKey
	if _, err := note.NewVerifier(ok); err != nil {
		b, rerr := os.ReadFile(ok)
		if rerr != nil {
			return fmt.Errorf("--origin-key is neither a verifier key nor a readable file: %w", rerr)
		}
		ok = strings.TrimSpace(string(b))
	}
	origin, err := note.NewVerifier(ok)
	if err != nil {
		return fmt.Errorf("--origin-key: %w", err)
	}
	if origin.Name() == self.Name() && origin.KeyHash() == self.KeyHash() {
		return errors.New("the witness key is the log's own key; a witness needs a key of its own")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	w := &pullWitness{base: strings.TrimRight(*base, "/"), http: &http.Client{Timeout: *timeout},
		signer: signer, self: self, origin: origin, dir: *dir, env: env}
	env.log.Info("witness", "name", self.Name(), "log", origin.Name(), "url", w.base, "state", *dir)
	for {
		res, err := w.step(ctx)
		var mb misbehaved
		switch {
		case errors.As(err, &mb):
			env.log.Error("the log misbehaved; refusing to cosign, stopping", "err", err)
			return err
		case err != nil && (*once || ctx.Err() != nil):
			return err
		case err != nil:
			env.log.Warn("witness check failed; will retry", "err", err, "retry_in", *interval)
		default:
			env.log.Info(res)
			if *once {
				fmt.Fprintln(env.stdout, res)
			}
		}
		if *once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// step fetches the latest checkpoint and, if it extends the one the witness
// last cosigned, cosigns and submits it. It returns what it did.
func (w *pullWitness) step(ctx context.Context) (string, error) {
	msg, err := w.get(ctx, "/ledger/checkpoint")
	if err != nil {
		return "", err
	}
	latest, n, err := seal.OpenCheckpoint(msg, note.VerifierList(w.origin), w.origin.Name())
	if err != nil {
		return "", fmt.Errorf("the served checkpoint does not verify with %s's key: %w", w.origin.Name(), err)
	}
	prev, prevNote, have, err := w.load()
	if err != nil {
		return "", err
	}
	if !have {
		w.env.log.Warn("no state yet: the first checkpoint is cosigned on trust", "size", latest.Size, "root", latest.Hash.String())
		prev = seal.Checkpoint{Origin: latest.Origin, Size: 0, Hash: tlog.Hash(emptyTreeHash())}
	}
	switch {
	case latest.Size < prev.Size:
		return "", w.misbehaved(prevNote, msg, nil, "rollback: the latest checkpoint has size %d, smaller than size %d which this witness cosigned", latest.Size, prev.Size)
	case latest.Size == prev.Size && latest.Hash != prev.Hash:
		return "", w.misbehaved(prevNote, msg, nil, "fork: two checkpoints of size %d with different roots (%s cosigned, %s now)", latest.Size, prev.Hash, latest.Hash)
	case latest.Size == prev.Size && have:
		if w.carriesOwn(msg) {
			return fmt.Sprintf("up to date: %s size %d is cosigned", latest.Origin, latest.Size), nil
		}
		// Cosigned before, but the server does not show it: submit again.
	case prev.Size > 0:
		proof, err := w.consistency(ctx, prev.Size, latest.Size)
		if err != nil {
			return "", err
		}
		if err := seal.VerifyConsistency(prev, latest, proof); err != nil {
			return "", w.misbehaved(prevNote, msg, proof, "fork: checkpoint of size %d is not consistent with size %d which this witness cosigned: %v", latest.Size, prev.Size, err)
		}
	}
	cosigned, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs}, w.signer)
	if err != nil {
		return "", err
	}
	if err := w.submit(ctx, cosigned); err != nil {
		return "", err
	}
	if err := w.save(cosigned); err != nil {
		return "", fmt.Errorf("cosignature of size %d submitted, but the state was not saved: %w", latest.Size, err)
	}
	return fmt.Sprintf("cosigned %s size %d root %s (consistent with size %d)", latest.Origin, latest.Size, latest.Hash, prev.Size), nil
}

// emptyTreeHash is the RFC 6962 hash of the empty tree, SHA-256("").
func emptyTreeHash() [32]byte { return sha256.Sum256(nil) }

// carriesOwn reports whether a served note carries a valid cosignature by
// this witness.
func (w *pullWitness) carriesOwn(msg []byte) bool {
	_, err := note.Open(msg, note.VerifierList(w.self))
	return err == nil
}

// load reads the last cosigned checkpoint. It must carry valid signatures
// by onebook and by this witness: anything else in the state directory is
// not this witness's state.
func (w *pullWitness) load() (seal.Checkpoint, []byte, bool, error) {
	msg, err := os.ReadFile(filepath.Join(w.dir, witnessStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return seal.Checkpoint{}, nil, false, nil
	}
	if err != nil {
		return seal.Checkpoint{}, nil, false, fmt.Errorf("witness state: %w", err)
	}
	cp, n, err := seal.OpenCheckpoint(msg, note.VerifierList(w.origin, w.self), w.origin.Name())
	if err != nil {
		return seal.Checkpoint{}, nil, false, fmt.Errorf("witness state %s: %w", filepath.Join(w.dir, witnessStateFile), err)
	}
	if len(n.Sigs) != 2 {
		return seal.Checkpoint{}, nil, false, fmt.Errorf("witness state %s is not signed by both %s and %s", filepath.Join(w.dir, witnessStateFile), w.origin.Name(), w.self.Name())
	}
	return cp, msg, true, nil
}

// save replaces the state atomically: a temporary file, synced, renamed
// over the old one, and the directory synced.
func (w *pullWitness) save(msg []byte) error {
	path := filepath.Join(w.dir, witnessStateFile)
	f, err := os.CreateTemp(w.dir, "."+witnessStateFile+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := f.Write(msg); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(w.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// misbehaved writes the evidence (the checkpoint the witness cosigned,
// the one it was shown, and the proof if any) to the state directory and
// returns the error that stops the witness.
func (w *pullWitness) misbehaved(cosigned, served []byte, proof tlog.TreeProof, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%s\n\n# cosigned by this witness before:\n%s\n# served by %s now:\n%s", time.Now().UTC().Format(time.RFC3339), msg, cosigned, w.base, served)
	if proof != nil {
		fmt.Fprintf(&b, "\n# consistency proof served:\n")
		for _, h := range proof {
			fmt.Fprintf(&b, "%s\n", base64.StdEncoding.EncodeToString(h[:]))
		}
	}
	path := filepath.Join(w.dir, fmt.Sprintf("evidence-%s.txt", time.Now().UTC().Format("20060102T150405.000000000Z")))
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		w.env.log.Error("could not write the evidence", "err", err)
	} else {
		msg += " (evidence in " + path + ")"
	}
	return misbehaved{msg}
}

// get fetches path and returns the body of a 200 answer.
func (w *pullWitness) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.base+path, nil)
	if err != nil {
		return nil, err
	}
	return w.do(req)
}

func (w *pullWitness) do(req *http.Request) ([]byte, error) {
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("%s %s: %s: %s (%s)", req.Method, req.URL.Path, resp.Status, e.Error.Message, e.Error.Code)
		}
		return nil, fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return body, nil
}

// consistency fetches the consistency proof from old to new.
func (w *pullWitness) consistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error) {
	body, err := w.get(ctx, fmt.Sprintf("/ledger/proof/consistency?old=%d&new=%d", old, new))
	if err != nil {
		return nil, err
	}
	var p api.ConsistencyProof
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	if p.Old != old || p.New != new {
		return nil, fmt.Errorf("asked for the consistency proof %d→%d, got %d→%d", old, new, p.Old, p.New)
	}
	proof := make(tlog.TreeProof, len(p.Proof))
	for i, s := range p.Proof {
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(h) != tlog.HashSize {
			return nil, fmt.Errorf("consistency proof: hash %d is not 32 bytes of base64", i)
		}
		copy(proof[i][:], h)
	}
	return proof, nil
}

// submit posts the cosigned note.
func (w *pullWitness) submit(ctx context.Context, cosigned []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+"/ledger/cosignatures", bytes.NewReader(cosigned))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	_, err = w.do(req)
	return err
}

// WitnessStatus is what ops verify reports of one configured witness.
type WitnessStatus struct {
	Name           string `json:"name"`
	Cosignatures   int    `json:"cosignatures"`    // stored and valid
	LatestCosigned uint64 `json:"latest_cosigned"` // largest tree size it cosigned (0: none)
	CosignedLatest bool   `json:"cosigned_latest"` // it cosigned the latest checkpoint
}

// checkCosignatures reads every stored cosignature by the witnesses keys
// and checks it against the published checkpoint of its size. Witnesses
// lag behind the log, so not having cosigned the latest checkpoint is no
// problem; a stored cosignature that does not verify is.
func checkCosignatures(ctx context.Context, js jetstream.JetStream, cps *seal.Checkpoints, keys []string, latest uint64) ([]WitnessStatus, []string, error) {
	cos, err := seal.BindCosignatures(ctx, js, cps, seal.CosignaturesConfig{Witnesses: keys})
	if err != nil && events.ErrorCode(err) != events.CodeNotFound {
		return nil, nil, err
	}
	ws, err := seal.ParseWitnesses(keys)
	if err != nil {
		return nil, nil, err
	}
	out := make([]WitnessStatus, len(ws))
	idx := map[string]int{}
	for i, w := range ws {
		out[i].Name = w.Name
		idx[w.Name] = i
	}
	if cos == nil {
		return out, nil, nil // no bucket: nothing was ever cosigned
	}
	var problems []string
	for co, err := range cos.All(ctx) {
		if events.ErrorCode(err) == events.CodeInvalid {
			problems = append(problems, err.Error())
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		st := &out[idx[co.Witness]]
		st.Cosignatures++
		st.LatestCosigned = max(st.LatestCosigned, co.Size)
		st.CosignedLatest = st.CosignedLatest || co.Size == latest
	}
	return out, problems, nil
}

// quorumProblem checks the witness policy "k of these witnesses cosigned
// the latest checkpoint" and names the missing witnesses; "" when met (or
// k is 0).
func quorumProblem(ws []WitnessStatus, k int, latest uint64) string {
	if k <= 0 {
		return ""
	}
	var missing []string
	for _, w := range ws {
		if !w.CosignedLatest {
			missing = append(missing, w.Name)
		}
	}
	have := len(ws) - len(missing)
	if have >= k {
		return ""
	}
	return fmt.Sprintf("witness policy: the latest checkpoint (size %d) has %d of the %d required cosignatures; missing: %s",
		latest, have, k, strings.Join(missing, ", "))
}
