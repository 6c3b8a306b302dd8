// Package snapshotstest checks an in-memory decision state's Snapshot and
// Restore against its fold, the same way for every state: a restored state
// is the state that was snapshotted, and goes on as if it had never
// stopped; a snapshot that cannot be read leaves the state empty.
package snapshotstest

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
)

// State is an in-memory decision state that snapshots itself.
type State interface {
	events.Applier
	// Snapshot encodes the state and the ledger sequence it covers.
	Snapshot() ([]byte, uint64, error)
	// Restore replaces an empty state with a snapshot covering seq.
	Restore(b []byte, seq uint64) error
}

// Event is one ledger event as a follower applies it.
type Event struct {
	Rec events.Recorded
	P   events.Payload
}

// recorder is an Applier that keeps what it is given.
type recorder []Event

func (r *recorder) Seq() uint64 {
	if len(*r) == 0 {
		return 0
	}
	return (*r)[len(*r)-1].Rec.Seq
}

func (r *recorder) Apply(rec events.Recorded, p events.Payload) { *r = append(*r, Event{rec, p}) }

// Events returns the whole ledger of store, decoded with reg as a
// follower decodes it (ledger.Fold), to apply to states in the test.
func Events(ctx context.Context, t testing.TB, store events.Reader, reg *events.Registry) []Event {
	t.Helper()
	size, err := store.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	if err := ledger.Fold(ctx, store, reg, &r, size); err != nil {
		t.Fatal(err)
	}
	if len(r) == 0 {
		t.Fatal("an empty ledger: the test's world recorded nothing")
	}
	return r
}

// Reads are a state's read methods by name, each called with arguments
// that the test's events make interesting. Answers are compared as JSON,
// so that times compare by instant and offset, not by *time.Location
// pointer (a restored time has its own).
type Reads[S any] map[string]func(S) any

// RoundTrip folds evs into a state made by fresh, and at every sequence
// of the ledger (before the first event, after each) snapshots it and
// restores the snapshot into a fresh state. The restored state must cover
// the same sequence, snapshot to the same bytes and answer every read as
// the original; and after applying the rest of evs it must snapshot and
// answer as a state folded from the start. Each read must answer some
// state of the ledger otherwise than the empty one, or it would test
// nothing. Then RoundTrip checks that Restore refuses snapshots that
// cannot be read (Refusals) and leaves the state empty.
//
// A snapshot changed but still readable (a flipped bit in a count) is not
// the state's to detect: the snapshot store seals each one with AES-GCM
// (snapshots.Store) and refuses it whole.
func RoundTrip[S State](t *testing.T, evs []Event, fresh func() S, reads Reads[S]) {
	t.Helper()
	full := fresh()
	apply(full, evs)
	want, wantSeq := snapshot(t, full)
	if wantSeq != evs[len(evs)-1].Rec.Seq {
		t.Fatalf("the full fold covers %d, the ledger ends at %d", wantSeq, evs[len(evs)-1].Rec.Seq)
	}
	wantReads := answers(t, full, reads)
	empty, _ := snapshot(t, fresh())
	emptyReads := answers(t, fresh(), reads)
	informative := make([]bool, len(reads)) // answered otherwise than of the empty state, somewhere

	orig := fresh()
	for k := 0; k <= len(evs); k++ {
		if k > 0 {
			apply(orig, evs[k-1:k])
		}
		at := "before the first event"
		if k > 0 {
			at = "after " + evs[k-1].Rec.Event.Type + " at " + strconv.FormatUint(evs[k-1].Rec.Seq, 10)
		}
		b, seq := snapshot(t, orig)
		restored := fresh()
		if err := restored.Restore(b, seq); err != nil {
			t.Fatalf("%s: restore: %v", at, err)
		}
		if restored.Seq() != seq {
			t.Fatalf("%s: restored at %d, the snapshot covers %d", at, restored.Seq(), seq)
		}
		if again, _ := snapshot(t, restored); !bytes.Equal(again, b) {
			t.Fatalf("%s: the restored state snapshots to other bytes", at)
		}
		origReads := answers(t, orig, reads)
		for i := range origReads {
			informative[i] = informative[i] || origReads[i] != emptyReads[i]
		}
		same(t, at+", restored", answers(t, restored, reads), origReads, reads)
		apply(restored, evs[k:])
		if after, _ := snapshot(t, restored); !bytes.Equal(after, want) {
			t.Fatalf("%s: restored, then the rest of the ledger applied: not the state folded from the start", at)
		}
		same(t, at+", restored and caught up", answers(t, restored, reads), wantReads, reads)
	}

	for i, name := range slices.Sorted(maps.Keys(reads)) {
		if !informative[i] {
			t.Errorf("%s answers %s of every state of the ledger, as of the empty one: it tests nothing", name, emptyReads[i])
		}
	}

	for _, r := range Refusals(t, want) {
		s := fresh()
		if err := s.Restore(r.Snapshot, wantSeq); err == nil {
			t.Errorf("%s: restored", r.Name)
			continue
		}
		if got, _ := snapshot(t, s); s.Seq() != 0 || !bytes.Equal(got, empty) {
			t.Errorf("%s: refused, but the state is not empty (at %d)", r.Name, s.Seq())
		}
		same(t, r.Name+", refused", answers(t, s, reads), emptyReads, reads)
	}
}

// Refusal is a snapshot that Restore must refuse.
type Refusal struct {
	Name     string
	Snapshot []byte
}

// Refusals returns unreadable variants of a state's snapshot b: empty,
// cut short in several places, not a snapshot at all, and b under the
// next format version (Restore reads only its own).
func Refusals(t testing.TB, b []byte) []Refusal {
	t.Helper()
	r := bytes.NewReader(b)
	var version int
	if err := gob.NewDecoder(r).Decode(&version); err != nil {
		t.Fatalf("the snapshot does not start with its format version: %v", err)
	}
	body := b[len(b)-r.Len():] // the decoder reads no further than the version: r is an io.ByteReader
	var next bytes.Buffer
	if err := gob.NewEncoder(&next).Encode(version + 1); err != nil {
		t.Fatal(err)
	}
	return []Refusal{
		{"empty", nil},
		{"the format version alone", b[:len(b)-len(body)]},
		{"cut in half", b[:len(b)/2]},
		{"short of its last byte", b[:len(b)-1]},
		{"not a snapshot", []byte("onebook-snapshot/1 passes 41\n")},
		{"the next format version", append(next.Bytes(), body...)},
	}
}

func apply(s events.Applier, evs []Event) {
	for _, e := range evs {
		s.Apply(e.Rec, e.P)
	}
}

func snapshot(t testing.TB, s State) ([]byte, uint64) {
	t.Helper()
	b, seq, err := s.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return b, seq
}

// answers calls every read, in the order of their names.
func answers[S any](t testing.TB, s S, reads Reads[S]) []string {
	t.Helper()
	var out []string
	for _, name := range slices.Sorted(maps.Keys(reads)) {
		b, err := json.Marshal(reads[name](s))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, string(b))
	}
	return out
}

func same[S any](t testing.TB, at string, got, want []string, reads Reads[S]) {
	t.Helper()
	for i, name := range slices.Sorted(maps.Keys(reads)) {
		if got[i] != want[i] {
			t.Fatalf("%s: %s answers\n%s\nwant\n%s", at, name, got[i], want[i])
		}
	}
}
