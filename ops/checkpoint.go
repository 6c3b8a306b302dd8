package main

import (
	"context"
	"flag"
	"fmt"
	"sort"

	"github.com/onebook/onebook/events/seal"
)

// runCheckpoint prints the latest signed checkpoint and checks it: its
// signature against the operator's verifier key, its root against the
// stored tiles, and its consistency with the checkpoint before it.
func runCheckpoint(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("checkpoint", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var c conn
	c.flags(fs, env)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	lc, err := c.openLedger(ctx)
	if err != nil {
		return err
	}
	defer lc.Close()
	led, verifier := lc.led, lc.verifier
	cps, bad, err := readCheckpoints(ctx, lc.js, verifier)
	if err != nil {
		return err
	}
	if len(cps) == 0 {
		return fmt.Errorf("no valid checkpoint stored yet (%d invalid)", len(bad))
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].Size < cps[j].Size })
	latest := cps[len(cps)-1]
	signed, err := led.Prover.Checkpoint(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(env.stdout, string(signed.Note))
	if signed.Size != latest.Size || signed.Hash != latest.Hash {
		return failed{fmt.Sprintf("the server's latest checkpoint (size %d) is not the latest stored one (size %d)", signed.Size, latest.Size)}
	}
	fmt.Fprintf(env.stderr, "ok   signature by %s\n", verifier.Name())
	root, err := led.Prover.TreeHash(ctx, latest.Size)
	if err != nil || root != latest.Hash {
		return failed{fmt.Sprintf("stored tiles do not give the signed root at size %d: %v", latest.Size, err)}
	}
	fmt.Fprintf(env.stderr, "ok   root matches the stored tree of %d events\n", latest.Size)
	if len(cps) > 1 {
		prev := cps[len(cps)-2]
		proof, err := led.Prover.ProveConsistency(ctx, prev.Size, latest.Size)
		if err == nil {
			err = seal.VerifyConsistency(prev, latest, proof)
		}
		if err != nil {
			return failed{fmt.Sprintf("not consistent with the previous checkpoint (size %d): %v", prev.Size, err)}
		}
		fmt.Fprintf(env.stderr, "ok   consistent with the previous checkpoint (size %d)\n", prev.Size)
	}
	if len(bad) > 0 {
		return failed{fmt.Sprintf("%d stored checkpoints are unreadable or wrongly signed; run ops verify", len(bad))}
	}
	return nil
}
