package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/snapshots"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/schemas"
)

// snapshotWorld opens, beside a running backend, its ledger, the registry
// that decodes sealed events and its snapshot bucket.
type snapshotWorld struct {
	ctx   context.Context
	store *ledger.Store
	reg   *events.Registry
	snaps *snapshots.Store
}

func openSnapshotWorld(t *testing.T, b *backend) snapshotWorld {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	_, js := natstest.Dial(t, fmt.Sprintf("nats://127.0.0.1:%d", b.natsPort))
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatal(err)
	}
	vault, err := app.OpenVault(ctx, js, b.dir, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := app.OpenSnapshots(ctx, js, b.dir, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	return snapshotWorld{ctx: ctx, store: st, reg: schemas.Registry().WithKeyring(vault), snaps: snaps}
}

// fold folds a fresh state of snapshot name up to sequence to.
func (w snapshotWorld) fold(t *testing.T, name string, to uint64) app.Snapshotter {
	t.Helper()
	st := app.NewStates()[name]
	if err := ledger.Fold(w.ctx, w.store, w.reg, st, to); err != nil {
		t.Fatal(err)
	}
	return st
}

func snapshot(t *testing.T, st app.Snapshotter) ([]byte, uint64) {
	t.Helper()
	b, seq, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b, seq
}

// TestRestartFromSnapshot restarts a backend whose states were snapshotted
// at shutdown: they restore from the snapshots, and a pass issued before
// the restart is allowed at the gate at once (no false forged denial).
// Each state restored from a snapshot at any point of the demo's ledger and
// folded on behaves as one folded from the start: their snapshots are
// equal byte for byte. After an erasure no snapshot holds the erased
// persons' personal data.
func TestRestartFromSnapshot(t *testing.T) {
	b := newBackend(t)
	b.startWith("--demo", "--snapshot-every", "1")
	g := residentAtGate(t, b, "snapshot", "李雷", "+86 138-0013-8001")
	op, res, pid := g.op, g.resident, g.person
	scan := func(id, dir string) (int, string) {
		code, body := op.do("POST", "/scans", map[string]any{"scan_id": id, "token": g.pass, "gate": g.gate, "direction": dir, "scanned_at": time.Now().UTC()})
		return code, string(body)
	}
	if code, body := scan("snap-1", "in"); code != 200 || !strings.Contains(body, `"allow"`) {
		t.Fatalf("scan before the restart: %d %s", code, body)
	}
	b.settled()
	b.stop() // a clean shutdown snapshots every state

	b.startWith("--snapshot-every", "1")
	// At once, before waiting for anything: the replica answers 503 while
	// warming, but never a denial.
	if code, body := scan("snap-2", "out"); code != 200 && code != 503 || strings.Contains(body, "forged") {
		t.Fatalf("scan right after the restart: %d %s", code, body)
	}
	st := b.settled()
	want := map[string]bool{app.SnapshotAccounts: true, app.SnapshotPasses: true, app.SnapshotCases: true, app.SnapshotAlerts: true, app.SnapshotDonations: true}
	for _, s := range st.States {
		if s.Snapshot == 0 || s.Seq < s.Snapshot {
			t.Errorf("state %s after the restart: %+v, want restored from a snapshot", s.Name, s)
		}
		delete(want, s.Name)
	}
	if len(want) > 0 {
		t.Errorf("states missing from /healthz: %v (%+v)", want, st.States)
	}
	if code, body := scan("snap-3", "in"); code != 200 || !strings.Contains(body, `"allow"`) {
		t.Fatalf("scan of a pass issued before the restart: %d %s", code, body)
	}

	w := openSnapshotWorld(t, b)
	size, err := w.store.Size(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("restore then fold equals fold", func(t *testing.T) {
		for name := range app.NewStates() {
			full, _ := snapshot(t, w.fold(t, name, size))
			for _, at := range []uint64{1, size / 2, size - 1} {
				t.Run(fmt.Sprintf("%s@%d", name, at), func(t *testing.T) {
					half := w.fold(t, name, at)
					b1, seq := snapshot(t, half)
					restored := app.NewStates()[name]
					if err := restored.Restore(b1, seq); err != nil {
						t.Fatal(err)
					}
					if restored.Seq() != seq {
						t.Fatalf("restored at %d, want %d", restored.Seq(), seq)
					}
					if again, _ := snapshot(t, restored); !bytes.Equal(again, b1) {
						t.Fatal("a restored state's snapshot differs from the one it was restored from")
					}
					for _, st := range []app.Snapshotter{half, restored} {
						if err := ledger.Fold(w.ctx, w.store, w.reg, st, size); err != nil {
							t.Fatal(err)
						}
					}
					for what, st := range map[string]app.Snapshotter{"folded in two": half, "restored and folded": restored} {
						got, seq := snapshot(t, st)
						if seq != size || !bytes.Equal(got, full) {
							t.Errorf("%s: at %d, %d bytes; a fold from the start: at %d, %d bytes", what, seq, len(got), size, len(full))
						}
					}
				})
			}
		}
	})

	// The erased person's sealed blob and phone index, as the state held them.
	acc := w.fold(t, app.SnapshotAccounts, size).(*accounts.State)
	per, ok := acc.Person(pid)
	if !ok || per.Sealed.Ciphertext == "" || per.Sealed.PhoneIndex == "" {
		b, seq := snapshot(t, acc)
		t.Fatalf("person %s in the accounts state at %d (%d bytes): %+v", pid, seq, len(b), per)
	}
	if names, err := w.snaps.Names(w.ctx); err != nil || len(names) != 5 {
		t.Fatalf("snapshots before the erasure: %v %v", names, err)
	}
	before, err := w.store.Size(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	res.json("DELETE", "/me/household", nil, 200, nil)
	// Snapshots come back (--snapshot-every 1), from states that applied
	// the erasure, and none holds the person's personal data.
	deadline := time.Now().Add(30 * time.Second)
	for name := range app.NewStates() {
		for {
			data, seq, err := w.snaps.Get(w.ctx, name)
			if err == nil && seq > before {
				if bytes.Contains(data, []byte(per.Sealed.Ciphertext)) || bytes.Contains(data, []byte(per.Sealed.PhoneIndex)) {
					t.Errorf("snapshot %s at %d holds the erased person's personal data", name, seq)
				}
				break
			}
			if err == nil {
				t.Fatalf("snapshot %s at %d, from before the erasure (ledger size %d), is readable", name, seq, before)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no snapshot of %s after the erasure: %v", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// ops verify checks each snapshot against a fresh fold, and names the
	// state whose snapshot does not match.
	b.settled()
	if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 0 || strings.Count(out, "equals a fresh fold") != 5 {
		t.Fatalf("verify with snapshots (%d):\n%s", code, out)
	}
	_, seq, err := w.snaps.Get(w.ctx, app.SnapshotCases)
	if err != nil {
		t.Fatal(err)
	}
	stale, _ := snapshot(t, w.fold(t, app.SnapshotCases, 1)) // before any case was filed
	if err := w.snaps.Put(w.ctx, app.SnapshotCases, seq, stale); err != nil {
		t.Fatal(err)
	}
	if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 1 || !strings.Contains(out, "FAIL snapshot of the cases state") {
		t.Fatalf("verify with a snapshot of the cases state that is not the ledger's (%d):\n%s", code, out)
	}
}
