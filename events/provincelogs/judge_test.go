package provincelogs

import (
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events/seal"
)

// TestJudge is the rule of the log of logs on a tree built in memory:
// the leaves of two histories that agree up to leaf 5.
func TestJudge(t *testing.T) {
	tree := func(salt string, fork, n int) (seal.Checkpoint, tlog.HashReaderFunc) {
		var hashes []tlog.Hash
		r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for i, x := range idx {
				out[i] = hashes[x]
			}
			return out, nil
		})
		for i := range n {
			s := "a"
			if i >= fork {
				s = salt
			}
			hs, err := tlog.StoredHashes(int64(i), fmt.Appendf(nil, "%s%d", s, i), r)
			if err != nil {
				t.Fatal(err)
			}
			hashes = append(hashes, hs...)
		}
		root, err := tlog.TreeHash(int64(n), r)
		if err != nil {
			t.Fatal(err)
		}
		return seal.Checkpoint{Origin: "o", Size: uint64(n), Hash: root}, r
	}
	proof := func(r tlog.HashReader, n, m int) tlog.TreeProof {
		p, err := tlog.ProveTree(int64(m), int64(n), r)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	h8, _ := tree("a", 99, 8)
	head := Head{Checkpoint: h8, Seq: 3}
	a12, ra := tree("a", 99, 12)
	b12, rb := tree("b", 5, 12)
	b8, _ := tree("b", 5, 8)
	a5, _ := tree("a", 99, 5)
	for _, tc := range []struct {
		name  string
		head  Head
		cp    seal.Checkpoint
		proof tlog.TreeProof
		want  Verdict
	}{
		{"first checkpoint", Head{}, b12, nil, Record},
		{"extends the head", head, a12, proof(ra, 8, 12), Record},
		{"the head again", head, h8, nil, Duplicate},
		{"older than the head", head, a5, nil, Stale},
		{"same size, other root", head, b8, nil, Fork},
		{"another history, its own proof", head, b12, proof(rb, 8, 12), Fork},
		{"another history, the honest proof", head, b12, proof(ra, 8, 12), Fork},
		{"extends the head, no proof", head, a12, nil, Fork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := Judge(tc.head, tc.cp, tc.proof)
			if j.Verdict != tc.want || (j.Verdict == Fork) != (j.Reason != "") {
				t.Errorf("Judge = %v (%q), want %v", j.Verdict, j.Reason, tc.want)
			}
		})
	}
}
