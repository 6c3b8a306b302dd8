package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/snapshots"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/ops/verify"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/mongostore"
)

// failed is an error whose exit status is 1 after a report was printed.
type failed struct{ msg string }

func (f failed) Error() string { return f.msg }
func (f failed) ExitCode() int { return 1 }

// Report is what ops verify found; --json prints it.
type Report struct {
	OK             bool                `json:"ok"`
	StreamProblems []string            `json:"stream_problems,omitempty"`
	BadCheckpoints []string            `json:"bad_checkpoints,omitempty"` // unreadable or wrongly signed
	Ledger         verify.LedgerReport `json:"ledger"`
	ProofsChecked  int                 `json:"proofs_checked"`
	ProofProblems  []string            `json:"proof_problems,omitempty"`
	Projections    []projections.Diff  `json:"projections,omitempty"`
	// Snapshots of the in-memory states, each against a fresh fold.
	Snapshots []verify.SnapshotCheck `json:"snapshots,omitempty"`
	// Witnesses configured with --witnesses, and stored cosignatures
	// that do not verify.
	Witnesses           []WitnessStatus `json:"witnesses,omitempty"`
	CosignatureProblems []string        `json:"cosignature_problems,omitempty"`
}

// runVerify replays the whole ledger, recomputes the Merkle root, checks
// every stored checkpoint's signature and its root, checks proofs served from
// the stored tiles, recomputes every projection and lists each MongoDB
// document that differs. Exit status 0 only when all holds.
func runVerify(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var c conn
	c.flags(fs, env)
	ledgerOnly := fs.Bool("ledger-only", false, "check the ledger and its checkpoints only, not the projections")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for projectors that are behind the ledger")
	samples := fs.Int("proof-samples", 256, "inclusion and consistency proofs to request from the stored tiles and check")
	witnesses := fs.String("witnesses", env.getenv("ONEBOOK_WITNESSES"), "comma-separated witness verifier keys: report which cosigned the latest checkpoint ($ONEBOOK_WITNESSES)")
	quorum := fs.Int("witness-quorum", 0, "witness policy: fail unless at least this many of --witnesses cosigned the latest checkpoint (0: report only)")
	var nat nationalFlags
	nat.flags(fs, env)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if nat.url != "" {
		if c.cell != "" {
			return fmt.Errorf("--national audits every cell from their URLs; it takes no --cell")
		}
		return runVerifyNational(ctx, env, &nat, c.data, *asJSON)
	}
	if *quorum < 0 || *quorum > 0 && *witnesses == "" {
		return fmt.Errorf("--witness-quorum %d needs --witnesses and must not be negative", *quorum)
	}
	lc, err := c.openLedger(ctx)
	if err != nil {
		return err
	}
	defer lc.Close()
	js, verifier, led, info := lc.js, lc.verifier, lc.led, lc.info

	rep := Report{StreamProblems: streamProblems(info)}
	size := info.State.LastSeq

	// Every stored checkpoint, each signature checked by us.
	cps, bad, err := readCheckpoints(ctx, js, verifier)
	if err != nil {
		return err
	}
	rep.BadCheckpoints = bad
	fmt.Fprintf(env.stderr, "verify: %d events, %d checkpoints (%d unreadable or wrongly signed)\n", size, len(cps), len(bad))

	vcps := make([]verify.Checkpoint, len(cps))
	for i, cp := range cps {
		vcps[i] = verify.Checkpoint{Size: cp.Size, Hash: cp.Hash}
	}
	rep.Ledger, err = verify.Ledger(ctx, js, ledgerStream, size, vcps, progress(env.stderr, "verify: ledger", size))
	if err != nil {
		return err
	}
	rep.ProofsChecked, rep.ProofProblems = checkProofs(ctx, led.Prover, cps, *samples)
	if *witnesses != "" {
		if rep.Witnesses, rep.CosignatureProblems, err = checkWitnessPolicy(ctx, js, led, cps, strings.Split(*witnesses, ","), *quorum); err != nil {
			return err
		}
	}
	if !*ledgerOnly {
		if rep.Projections, rep.Snapshots, err = verifyViews(ctx, env, &c, js, led, size, *wait); err != nil {
			return err
		}
	}
	rep.OK = rep.ok()
	writeReport(env, rep, *asJSON)
	if !rep.OK {
		return failed{"the ledger, its seal, a projection or a snapshot does not verify"}
	}
	return nil
}

// ledgerStream is the JetStream stream that holds the ledger.
const ledgerStream = "LEDGER"

// streamProblems checks the ledger stream's guard rails as they were
// before anything could re-apply them: no deletes, no purges, nothing lost.
func streamProblems(info *jetstream.StreamInfo) []string {
	var out []string
	if !info.Config.DenyDelete || !info.Config.DenyPurge {
		out = append(out, fmt.Sprintf("stream %s allows deletes or purges (deny_delete=%v deny_purge=%v)", ledgerStream, info.Config.DenyDelete, info.Config.DenyPurge))
	}
	if info.State.FirstSeq > 1 || info.State.NumDeleted > 0 {
		out = append(out, fmt.Sprintf("stream %s has lost events: first sequence %d, %d deleted", ledgerStream, info.State.FirstSeq, info.State.NumDeleted))
	}
	return out
}

// checkWitnessPolicy reports which of the witnesses cosigned the latest of
// cps, the stored cosignatures that do not verify, and a shortfall against
// the quorum (0: report only).
func checkWitnessPolicy(ctx context.Context, js jetstream.JetStream, led *app.Ledger, cps []seal.Checkpoint, witnesses []string, quorum int) ([]WitnessStatus, []string, error) {
	var latest uint64
	for _, cp := range cps {
		latest = max(latest, cp.Size)
	}
	status, problems, err := checkCosignatures(ctx, js, led.Checkpoints, witnesses, latest)
	if err != nil {
		return nil, nil, err
	}
	if p := quorumProblem(status, quorum, latest); p != "" {
		problems = append(problems, p)
	}
	return status, problems, nil
}

// verifyViews recomputes every projection up to size and lists each
// MongoDB document that differs, then checks the latest snapshot of each
// in-memory state. Projections fold sealed fields: recomputing them takes
// the keys.
func verifyViews(ctx context.Context, env *environ, c *conn, js jetstream.JetStream, led *app.Ledger, size uint64, wait time.Duration) ([]projections.Diff, []verify.SnapshotCheck, error) {
	client, db, err := c.mongo(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	// Projections fold sealed fields: recomputing them takes the keys.
	reg, err := c.sealedRegistry(ctx, js)
	if err != nil {
		return nil, nil, err
	}
	diffs, err := verify.Projections(ctx, led.Store, reg, app.CellProjections(events.Region(c.cell)), mongostore.New(db, 30*time.Second), size, wait,
		progress(env.stderr, "verify: projections", size))
	if err != nil {
		return nil, nil, err
	}
	snaps, err := checkSnapshots(ctx, js, c.data, led.Store, reg, size)
	if err != nil {
		return nil, nil, err
	}
	return diffs, snaps, nil
}

// ok says whether everything the report checked holds.
func (r Report) ok() bool {
	ok := len(r.StreamProblems) == 0 && len(r.BadCheckpoints) == 0 && r.Ledger.OK() && len(r.ProofProblems) == 0 && len(r.CosignatureProblems) == 0
	for _, d := range r.Projections {
		ok = ok && d.OK()
	}
	for _, c := range r.Snapshots {
		ok = ok && c.OK()
	}
	return ok
}

// writeReport prints the report as indented JSON or as text.
func writeReport(env *environ, rep Report, asJSON bool) {
	if !asJSON {
		printReport(env, rep)
		return
	}
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}

// checkSnapshots checks the latest snapshot of each in-memory state
// against a fresh fold of the ledger up to its sequence; no snapshot
// bucket: nothing to check (a backend that never wrote one).
func checkSnapshots(ctx context.Context, js jetstream.JetStream, data string, store *ledger.Store, reg *events.Registry, size uint64) ([]verify.SnapshotCheck, error) {
	obj, err := js.ObjectStore(ctx, snapshots.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot bucket: %w", err)
	}
	st, err := obj.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot bucket: %w", err)
	}
	snaps, err := app.OpenSnapshots(ctx, js, data, st.Replicas(), false)
	if err != nil {
		return nil, err
	}
	return verify.Snapshots(ctx, store, reg, snaps, func(name string) (verify.State, bool) {
		s, ok := app.NewStates()[name]
		return s, ok
	}, size)
}

// readCheckpoints reads every message of the checkpoint stream and opens it
// with verifier; the ones that fail are named, not skipped silently.
func readCheckpoints(ctx context.Context, js jetstream.JetStream, verifier note.Verifier) ([]seal.Checkpoint, []string, error) {
	const name = "LEDGER_SEAL"
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint stream: %w", err)
	}
	var (
		cps []seal.Checkpoint
		bad []string
	)
	err = ledger.ScanStream(ctx, js, name, nil, 1, info.State.LastSeq, func(r events.Recorded) error {
		cp, _, err := seal.OpenCheckpoint(r.Raw, note.VerifierList(verifier), verifier.Name())
		if err != nil {
			bad = append(bad, fmt.Sprintf("checkpoint message %d: %v", r.Seq, err))
			return nil
		}
		cps = append(cps, cp)
		return nil
	})
	return cps, bad, err
}

// checkProofs asks the prover, which reads the stored tiles, for inclusion
// and consistency proofs and checks them against the signed checkpoints:
// the ledger pass proves the checkpoints right, this proves the tiles that
// serve everyone's proofs right.
func checkProofs(ctx context.Context, p *seal.Prover, cps []seal.Checkpoint, samples int) (int, []string) {
	if len(cps) == 0 {
		return 0, nil
	}
	sorted := append([]seal.Checkpoint(nil), cps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Size < sorted[j].Size })
	latest := sorted[len(sorted)-1]
	var problems []string
	checked := 0
	rng := rand.New(rand.NewPCG(uint64(latest.Size), 1))
	for i := 0; i < samples && latest.Size > 0; i++ {
		cp := sorted[rng.IntN(len(sorted))]
		if cp.Size == 0 {
			continue
		}
		idx := rng.Uint64N(cp.Size)
		leaf, proof, err := p.ProveInclusion(ctx, idx, cp.Size)
		if err == nil {
			err = seal.VerifyInclusion(cp, idx, leaf, proof)
		}
		checked++
		if err != nil {
			problems = append(problems, fmt.Sprintf("inclusion of leaf %d in checkpoint of size %d: %v", idx, cp.Size, err))
		}
	}
	// Consistency between consecutive checkpoints, evenly spaced samples.
	step := max(1, (len(sorted)-1)/max(samples, 1))
	for i := 0; i+1 < len(sorted); i += step {
		old, new := sorted[i], sorted[i+1]
		proof, err := p.ProveConsistency(ctx, old.Size, new.Size)
		if err == nil {
			err = seal.VerifyConsistency(old, new, proof)
		}
		checked++
		if err != nil {
			problems = append(problems, fmt.Sprintf("consistency %d→%d: %v", old.Size, new.Size, err))
		}
	}
	return checked, problems
}

func printReport(env *environ, r Report) {
	w := env.stdout
	mark := func(ok bool) string {
		if ok {
			return "ok  "
		}
		return "FAIL"
	}
	fmt.Fprintf(w, "%s ledger stream guard rails (deny delete, deny purge, no gaps)\n", mark(len(r.StreamProblems) == 0))
	for _, p := range r.StreamProblems {
		fmt.Fprintf(w, "       %s\n", p)
	}
	fmt.Fprintf(w, "%s checkpoint signatures\n", mark(len(r.BadCheckpoints) == 0))
	for _, p := range r.BadCheckpoints {
		fmt.Fprintf(w, "       %s\n", p)
	}
	fmt.Fprintf(w, "%s ledger replay: %d events, root %s, %d checkpoints match\n", mark(r.Ledger.OK()), r.Ledger.Size, r.Ledger.Root, r.Ledger.Checkpoints-len(r.Ledger.Mismatches))
	for _, m := range r.Ledger.Mismatches {
		fmt.Fprintf(w, "       checkpoint of size %d signs root %s, the ledger gives %s\n", m.Size, m.Signed, m.Computed)
	}
	for _, s := range r.Ledger.Beyond {
		fmt.Fprintf(w, "       checkpoint of size %d is beyond the ledger's %d events: events were removed\n", s, r.Ledger.Size)
	}
	fmt.Fprintf(w, "%s %d proofs served from stored tiles\n", mark(len(r.ProofProblems) == 0), r.ProofsChecked)
	for _, p := range r.ProofProblems {
		fmt.Fprintf(w, "       %s\n", p)
	}
	if len(r.Witnesses) > 0 {
		fmt.Fprintf(w, "%s witness cosignatures\n", mark(len(r.CosignatureProblems) == 0))
		for _, p := range r.CosignatureProblems {
			fmt.Fprintf(w, "       %s\n", p)
		}
		for _, ws := range r.Witnesses {
			latest := "has not cosigned the latest checkpoint"
			if ws.CosignedLatest {
				latest = "cosigned the latest checkpoint"
			}
			fmt.Fprintf(w, "       %s %s (%d cosignatures, up to size %d)\n", ws.Name, latest, ws.Cosignatures, ws.LatestCosigned)
		}
	}
	for _, c := range r.Snapshots {
		if c.OK() {
			fmt.Fprintf(w, "ok   snapshot of the %s state at %d equals a fresh fold\n", c.Name, c.Seq)
		} else {
			fmt.Fprintf(w, "FAIL snapshot of the %s state at %d: %s\n", c.Name, c.Seq, c.Problem)
		}
	}
	for _, d := range r.Projections {
		fmt.Fprintf(w, "%s projection %s v%d: %d documents derived, %d stored\n", mark(d.OK()), d.Name, d.Version, d.Expected, d.Stored)
		if d.Problem != "" {
			fmt.Fprintf(w, "       %s\n", d.Problem)
		}
		if d.Behind {
			fmt.Fprintf(w, "       projector is behind the ledger; differences may be lag\n")
		}
		for _, id := range d.Changed {
			fmt.Fprintf(w, "       changed:  %s\n", id)
		}
		for _, id := range d.Missing {
			fmt.Fprintf(w, "       missing:  %s\n", id)
		}
		for _, id := range d.Invented {
			fmt.Fprintf(w, "       invented: %s (not derivable from the ledger)\n", id)
		}
	}
}
