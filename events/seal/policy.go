package seal

import (
	"context"
	"strconv"
	"strings"

	"github.com/onebook/onebook/events"
)

// WitnessPolicy is what a client requires of a checkpoint before trusting
// it: valid cosignatures by at least Quorum of Witnesses. A checkpoint
// that meets it was seen, consistent with their earlier views, by that
// many independent parties, so onebook could not have shown this client a
// history it did not show them (C2SP tlog-cosignature, "Log clients can
// verify a quorum of cosignatures to prevent split-view attacks").
type WitnessPolicy struct {
	Witnesses []Witness
	Quorum    int
}

// ParseWitnessPolicy reads a policy: witness verifier keys (cosignature/v1
// or plain signed-note Ed25519) and k. No keys and k = 0 is the empty
// policy, which every checkpoint meets.
func ParseWitnessPolicy(keys []string, k int) (WitnessPolicy, error) {
	ws, err := ParseWitnesses(keys)
	if err != nil {
		return WitnessPolicy{}, err
	}
	if k < 0 || k > len(ws) {
		return WitnessPolicy{}, events.Invalid("witness_quorum", "a quorum of %d of %d witnesses", k, len(ws))
	}
	return WitnessPolicy{Witnesses: ws, Quorum: k}, nil
}

// Check returns the names of the policy's witnesses whose cosignatures on
// the signed note msg verify, and, if there are fewer than Quorum of them,
// an error (code CodeForbidden) naming the witnesses that are missing.
// Signature lines by other keys are ignored, as signed-note requires.
func (p WitnessPolicy) Check(msg []byte) ([]string, error) {
	text := noteText(msg)
	lines := strings.SplitAfter(string(msg[len(text):]), "\n")
	var have, missing []string
	for _, w := range p.Witnesses {
		ok := false
		for _, l := range lines {
			ok = ok || verifyLine(w, text, l)
		}
		if ok {
			have = append(have, w.Name)
		} else {
			missing = append(missing, w.Name)
		}
	}
	if len(have) < p.Quorum {
		return have, events.Errorf(events.CodeForbidden, "witness policy: %d of the %d required cosignatures (cosigned by: %s; missing: %s)",
			len(have), p.Quorum, orNone(have), orNone(missing))
	}
	return have, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// witnessedDepth bounds how far back Witnessed looks, in messages of the
// checkpoint stream: witnesses cosign within moments of a checkpoint, so a
// checkpoint with more cosignatures than the last few have is not worth
// reading the stream for.
const witnessedDepth = 32

// Witnessed returns, among the latest witnessedDepth published checkpoints,
// the newest one cosigned by every configured witness, or failing that the
// one with the most cosignatures (the newest of those), its note carrying
// them. With no witnesses configured it is the latest checkpoint. Public
// proofs (donation traces) and export bundles are made against it, so that
// clients with a witness policy can check them: the latest checkpoint is
// usually not cosigned yet when it is read.
func (c *Cosignatures) Witnessed(ctx context.Context) (SignedCheckpoint, error) {
	latest, err := c.cps.Latest(ctx)
	if err != nil || len(c.witnesses) == 0 {
		return latest, err
	}
	best, bestN := latest, -1
	for seq := latest.Seq; seq > 0 && seq+witnessedDepth > latest.Seq; seq-- {
		sc := latest
		if seq != latest.Seq {
			if sc, err = c.cps.at(ctx, seq); err != nil && events.ErrorCode(err) == events.CodeInternal {
				continue // another ledger's checkpoint (a shared stream), or none
			} else if err != nil {
				return SignedCheckpoint{}, err
			}
		}
		cos, err := c.For(ctx, sc.Size, sc.Note)
		if err != nil {
			return SignedCheckpoint{}, err
		}
		if len(cos) > bestN {
			best, bestN = sc, len(cos)
			if bestN == len(c.witnesses) {
				break
			}
		}
	}
	if best.Note, err = c.Attach(ctx, best.Note, best.Size); err != nil {
		return SignedCheckpoint{}, err
	}
	return best, nil
}

// String names the policy: "2 of w1, w2, w3".
func (p WitnessPolicy) String() string {
	names := make([]string, len(p.Witnesses))
	for i, w := range p.Witnesses {
		names[i] = w.Name
	}
	return strconv.Itoa(p.Quorum) + " of " + orNone(names)
}
