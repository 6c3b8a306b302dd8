package provincelogs_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/provincelogs"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/sealtest"
	"github.com/onebook/onebook/events/seal/tlogclient"
)

const (
	provOrigin = "onebook.test/p/31"
	natOrigin  = "onebook.test/national"
	code       = events.Region("31")
)

// world is a national log and province 31's log, each on a server of its
// own, with a recorder of province 31 into the national ledger.
type world struct {
	ctx      context.Context
	nation   *sealtest.Log
	prov     *sealtest.Log
	provSkey string
	rec      *provincelogs.Recorder
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	w := &world{ctx: ctx, provSkey: sealtest.Key(t, provOrigin)}
	_, njs := natstest.Start(t).Connect()
	w.nation = sealtest.Open(t, njs, sealtest.Key(t, natOrigin))
	_, pjs := natstest.Start(t).Connect()
	w.prov = sealtest.Open(t, pjs, w.provSkey)
	reg := events.NewRegistry()
	nationevents.Register(reg)
	var err error
	w.rec, err = provincelogs.NewRecorder(w.nation.Store, reg, []provincelogs.Province{{Code: code, Key: w.prov.Key}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// fork opens, on a server of its own, a second log signed with province
// 31's key: the same events as the province's up to n, others after.
func (w *world) fork(t *testing.T, n, to int) *sealtest.Log {
	t.Helper()
	_, js := natstest.Start(t).Connect()
	f := sealtest.Open(t, js, w.provSkey)
	f.Grow(t, "310101", "a", 0, n)
	f.Grow(t, "310101", "b", n, to)
	return f
}

func (w *world) record(t *testing.T, l *sealtest.Log, want provincelogs.Verdict) {
	t.Helper()
	msg, _, _, err := l.Prover.Latest(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	j, err := w.rec.Record(w.ctx, code, msg, l.Prover)
	if err != nil {
		t.Fatal(err)
	}
	if j.Verdict != want {
		t.Fatalf("recorded %s, want %s (%s)", j.Verdict, want, j.Reason)
	}
}

// sealNation seals the national ledger up to its end and returns clients
// of both logs' public surfaces.
func (w *world) sealNation(t *testing.T, served *sealtest.Log) (nat, prov *tlogclient.Client) {
	t.Helper()
	size, err := w.nation.Store.Size(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.nation.SealTo(t, size)
	return tlogclient.New(w.nation.Serve(t, "/national"), nil), tlogclient.New(served.Serve(t, "/p/31"), nil)
}

func (w *world) audit(t *testing.T, nat, prov *tlogclient.Client) provincelogs.Report {
	t.Helper()
	rep, err := provincelogs.Audit(w.ctx, provincelogs.Audited{Log: nat, Key: w.nation.Key},
		map[events.Region]provincelogs.Audited{code: {Log: prov, Key: w.prov.Key}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestRecordAuditAndChain records a province log as it grows (each
// checkpoint once, older ones not again), audits the national log and
// checks the chain from the national checkpoint to province events on
// both sides of an entry bundle's edge.
func TestRecordAuditAndChain(t *testing.T) {
	w := newWorld(t)
	w.prov.Grow(t, "310101", "a", 0, 300)
	first, _, _, err := w.prov.Prover.Latest(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.record(t, w.prov, provincelogs.Record)
	w.record(t, w.prov, provincelogs.Duplicate)
	w.prov.Grow(t, "310102", "a", 300, 520)
	w.record(t, w.prov, provincelogs.Record)
	if j, err := w.rec.Record(w.ctx, code, first, w.prov.Prover); err != nil || j.Verdict != provincelogs.Stale {
		t.Fatalf("an older checkpoint again: %v, %v; want stale", j.Verdict, err)
	}
	if n, _ := w.nation.Store.Size(w.ctx); n != 2 {
		t.Fatalf("the national ledger holds %d events, want 2 (one per distinct checkpoint)", n)
	}
	w.prov.Grow(t, "310103", "a", 520, 530) // residents are shown more than the nation has recorded yet
	nat, prov := w.sealNation(t, w.prov)
	rep := w.audit(t, nat, prov)
	if !rep.OK() {
		t.Fatalf("audit of an honest province: %+v", rep)
	}
	if p := rep.Provinces[0]; p.Recorded != 2 || p.Last != 520 || p.Served != 530 {
		t.Errorf("province report %+v, want 2 recorded, last 520, served 530", p)
	}
	for _, tc := range []struct {
		index     uint64
		wantEntry uint64 // national entry of the first checkpoint covering it
	}{{0, 0}, {255, 0}, {256, 0}, {299, 0}, {300, 1}, {519, 1}} {
		ch, err := provincelogs.Chain(w.ctx, rep, nat, prov, code, tc.index)
		if err != nil {
			t.Fatalf("chain to event %d: %v", tc.index, err)
		}
		if len(ch.Links) != 3 || !strings.Contains(ch.Links[0].What, "includes national entry "+strconv.FormatUint(tc.wantEntry, 10)) {
			t.Errorf("chain to event %d: %+v", tc.index, ch.Links)
		}
	}
	if _, err := provincelogs.Chain(w.ctx, rep, nat, prov, code, 525); events.ErrorCode(err) != events.CodeNotFound {
		t.Errorf("chain to an event the nation has not recorded yet: %v, want not_found", err)
	}
}

// TestBadSignatureRefused: a checkpoint the province's key did not sign is
// refused and leaves no trace in the national ledger.
func TestBadSignatureRefused(t *testing.T) {
	w := newWorld(t)
	good := w.prov.Grow(t, "310101", "a", 0, 10)
	other, _, err := seal.LoadSigner(sealtest.Key(t, provOrigin)) // same origin, another key
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c seal.Checkpoint) []byte {
		msg, err := seal.Sign(c, other)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	tampered := strings.Replace(string(good.Note), "\n10\n", "\n11\n", 1)
	for _, tc := range []struct {
		name string
		code events.Region
		msg  []byte
	}{
		{"signed with another key", code, sign(good.Checkpoint)},
		{"size changed after signing", code, []byte(tampered)},
		{"not a note", code, []byte("hello\n")},
		{"a province the nation does not record", "44", good.Note},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.rec.Record(w.ctx, tc.code, tc.msg, w.prov.Prover)
			if events.ErrorCode(err) != events.CodeInvalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
			if n, _ := w.nation.Store.Size(w.ctx); n != 0 {
				t.Fatalf("the national ledger holds %d events after a refusal", n)
			}
		})
	}
}

// TestForkServedToResidents: the nation records one history, the province
// serves its residents another, signed with the same key. The audit says
// so, naming both checkpoints, whatever the size of the residents' tree.
func TestForkServedToResidents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		served int // size of the residents' history, which departs at 60
		want   string
	}{
		{"longer", 120, "FORK: the province serves its residents a checkpoint of size 120"},
		{"same size", 100, "FORK: the province serves its residents a checkpoint of size 100"},
		{"shorter", 80, "older than the one of size 100 it gave the nation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.prov.Grow(t, "310101", "a", 0, 100)
			w.record(t, w.prov, provincelogs.Record)
			residents := w.fork(t, 60, tc.served)
			nat, prov := w.sealNation(t, residents)
			rep := w.audit(t, nat, prov)
			if rep.OK() {
				t.Fatalf("the audit passed a forked province: %+v", rep)
			}
			got := strings.Join(rep.Provinces[0].Problems, "\n")
			if !strings.Contains(got, tc.want) || !strings.Contains(got, "size 100") {
				t.Errorf("problems:\n%s\nwant one saying %q", got, tc.want)
			}
			// The honest history passes the same audit.
			_, honest := w.sealNation(t, w.prov)
			if rep := w.audit(t, nat, honest); !rep.OK() {
				t.Errorf("audit against the history the nation recorded: %+v", rep)
			}
		})
	}
}

// TestForkShownToTheNation: the province gives the nation a checkpoint
// that does not extend the one recorded. The evidence is recorded once, the
// head stays, a consistent checkpoint is still recorded after it, and the
// audit fails naming the fork.
func TestForkShownToTheNation(t *testing.T) {
	w := newWorld(t)
	w.prov.Grow(t, "310101", "a", 0, 100)
	w.record(t, w.prov, provincelogs.Record)
	other := w.fork(t, 60, 120)
	w.record(t, other, provincelogs.Fork)
	w.record(t, other, provincelogs.Fork) // again: reported already
	if n, _ := w.nation.Store.Size(w.ctx); n != 2 {
		t.Fatalf("the national ledger holds %d events, want 2 (the checkpoint and one fork)", n)
	}
	head, err := w.rec.Head(w.ctx, code)
	if err != nil || head.Checkpoint.Size != 100 || head.Conflicting == nil || head.Conflicting.Size != 120 {
		t.Fatalf("head after the fork: %+v, %v; want size 100 with the conflicting 120", head, err)
	}
	w.prov.Grow(t, "310101", "a", 100, 150)
	w.record(t, w.prov, provincelogs.Record)
	nat, prov := w.sealNation(t, w.prov)
	rep := w.audit(t, nat, prov)
	if rep.OK() || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "province 31 forked (national entry 1)") {
		t.Fatalf("audit problems %q, want the fork named", rep.Problems)
	}
	if p := rep.Provinces[0]; len(p.Problems) != 0 || p.Recorded != 2 || p.Last != 150 {
		t.Errorf("the recorded chain itself is sound, yet: %+v", p)
	}
}

// TestFollow records a growing province log through Follow, stops and
// starts again (a restart), and checks that each checkpoint recorded is
// consistent with the one before and the last is the province's newest.
func TestFollow(t *testing.T) {
	w := newWorld(t)
	log := slog.New(slog.DiscardHandler)
	run := func(want uint64) {
		ctx, cancel := context.WithCancel(w.ctx)
		done := make(chan struct{})
		go func() {
			provincelogs.Follow(ctx, w.rec, []provincelogs.Followed{{Code: code, Source: w.prov.Prover}}, 5*time.Millisecond, log)
			close(done)
		}()
		defer func() { cancel(); <-done }()
		for {
			h, err := w.rec.Head(w.ctx, code)
			if err != nil {
				t.Fatal(err)
			}
			if h.Checkpoint.Size == want {
				return
			}
			select {
			case <-w.ctx.Done():
				t.Fatalf("the follower did not record size %d (head %d)", want, h.Checkpoint.Size)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	w.prov.Grow(t, "310101", "a", 0, 40)
	run(40)
	w.prov.Grow(t, "310101", "a", 40, 90)
	w.prov.Grow(t, "310101", "a", 90, 95)
	run(95)
	nat, prov := w.sealNation(t, w.prov)
	if rep := w.audit(t, nat, prov); !rep.OK() || rep.Provinces[0].Last != 95 {
		t.Fatalf("audit after following: %+v", rep)
	}
	if _, err := provincelogs.Chain(w.ctx, provincelogs.Report{}, nat, prov, code, 1); events.ErrorCode(err) != events.CodeNotFound {
		t.Errorf("chain without an audit: %v, want not_found", err)
	}
}
