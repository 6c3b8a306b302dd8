package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/outbox"
	"github.com/onebook/onebook/events/outbox/outboxtest"
	"github.com/onebook/onebook/events/schemas"
)

var provinces = []events.Region{"31", "44"}

// TestOutboxToNation: each province's aggregate events, and nothing else
// of its ledger, reach the national ledger through its OUTBOX, renamed to
// aggregate.<province>.… and with their canonical bytes unchanged; the
// national ledger, opened again (a restart), keeps its sources.
func TestOutboxToNation(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv := outboxtest.Start(t, provinces)
	reg := schemas.Registry()
	want := map[string][]byte{} // national subject → canonical bytes
	for _, p := range provinces {
		st := outboxtest.OpenProvince(ctx, t, srv, p)
		raw, err := reg.New(ctx, donationevents.TypeEscalated, events.Meta{Aggregate: events.Aggregate{Kind: donationevents.KindDonation, ID: "d-1"},
			Region: p + "0101", Actor: events.Actor{Role: "donation_reviewer", ID: "s-1"}}, donationevents.Escalated{Reason: "the two reviews disagree"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Append(ctx, raw, events.ExpectAny()); err != nil {
			t.Fatal(err)
		}
		for _, day := range []string{"2026-11-24", "2026-11-25"} {
			f := aggregates.CaseFigure(p, day, aggregates.DefaultSmallCell, nil)
			f.Revision = 1
			agg := aggregates.Aggregate(aggregates.FigureCases, p, day)
			id, err := aggregates.EventID(agg, 1, f)
			if err != nil {
				t.Fatal(err)
			}
			e, err := reg.New(ctx, aggregates.TypeCases, events.Meta{ID: id, Aggregate: agg, Region: p, Actor: events.Actor{Role: "system", ID: "publisher"}}, f)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := st.Append(ctx, e, events.ExpectNew())
			if err != nil {
				t.Fatal(err)
			}
			want[outbox.SubjectRoot+"."+string(p)+"."+aggregates.Kind+"."+agg.ID] = rec.Raw
		}
	}
	_, njs := outboxtest.Connect(srv, outbox.NationAccount)
	cfg := ledger.Config{Sources: outbox.Sources(provinces)}
	if _, err := ledger.Open(ctx, njs, cfg); err != nil {
		t.Fatalf("national ledger: %v", err)
	}
	got := waitFor(ctx, t, njs, len(want))
	for subj, raw := range want {
		if !bytes.Equal(got[subj], raw) {
			t.Errorf("%s: national ledger holds %q, want the province's bytes %q", subj, got[subj], raw)
		}
	}
	if len(got) != len(want) {
		t.Errorf("national ledger holds %d events, want the %d aggregates only: %v", len(got), len(want), got)
	}
	if _, err := ledger.Open(ctx, njs, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := njs.Stream(ctx, outbox.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.CachedInfo().Config.Sources); n != len(provinces) {
		t.Errorf("reopened national ledger has %d sources, want %d", n, len(provinces))
	}
}

// waitFor reads the national ledger until it holds n events (or the
// context ends), returning them by subject.
func waitFor(ctx context.Context, t *testing.T, js jetstream.JetStream, n int) map[string][]byte {
	t.Helper()
	st, err := js.Stream(ctx, outbox.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= uint64(n) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("national ledger holds %d events, want %d: %+v", info.State.Msgs, n, sourceErrors(info))
		case <-time.After(20 * time.Millisecond):
		}
	}
	out := map[string][]byte{}
	for seq := uint64(1); ; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[m.Subject] = m.Data
	}
}

// TestNationCannotReadProvinceLedger: through the province's API prefix
// the national account can make a consumer on OUTBOX, which is what it is
// granted, and can neither make one on LEDGER nor read LEDGER's
// messages or configuration.
func TestNationCannotReadProvinceLedger(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv := outboxtest.Start(t, provinces)
	outboxtest.OpenProvince(ctx, t, srv, "31")
	nc, _ := outboxtest.Connect(srv, outbox.NationAccount)
	via, err := jetstream.NewWithAPIPrefix(nc, outbox.APIPrefix("31"))
	if err != nil {
		t.Fatal(err)
	}
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }
	c, cc := short()
	_, err = via.CreateConsumer(c, outbox.Stream, jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute})
	cc()
	if err != nil {
		t.Fatalf("consumer on OUTBOX, as granted: %v", err)
	}
	for _, tc := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"consumer on LEDGER", func(c context.Context) error {
			_, err := via.CreateConsumer(c, outbox.Ledger, jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy})
			return err
		}},
		{"named consumer on LEDGER", func(c context.Context) error {
			_, err := via.CreateOrUpdateConsumer(c, outbox.Ledger, jetstream.ConsumerConfig{Durable: "peek", AckPolicy: jetstream.AckNonePolicy})
			return err
		}},
		{"LEDGER's configuration", func(c context.Context) error { _, err := via.Stream(c, outbox.Ledger); return err }},
		{"OUTBOX's configuration", func(c context.Context) error { _, err := via.Stream(c, outbox.Stream); return err }},
		{"a message of LEDGER", func(c context.Context) error {
			_, err := nc.RequestWithContext(c, outbox.APIPrefix("31")+".STREAM.MSG.GET."+outbox.Ledger, []byte(`{"seq":1}`))
			return err
		}},
	} {
		c, cc := short()
		err := tc.do(c)
		cc()
		if err == nil {
			t.Errorf("%s: the national account was answered", tc.name)
		}
	}
}

func sourceErrors(info *jetstream.StreamInfo) []string {
	var out []string
	for _, s := range info.Sources {
		if s.Error != nil {
			out = append(out, s.Name+": "+s.Error.Error())
		} else {
			out = append(out, fmt.Sprintf("%s: lag %d", s.Name, s.Lag))
		}
	}
	return out
}

// TestSourced: Sourced reads back the provinces Sources was given, and
// nothing of another stream's sources.
func TestSourced(t *testing.T) {
	for _, ps := range [][]events.Region{nil, {"31"}, {"11", "31", "44", "51"}} {
		if got := outbox.Sourced(outbox.Sources(ps)); !slices.Equal(got, ps) {
			t.Errorf("Sourced(Sources(%v)) = %v", ps, got)
		}
	}
	others := []*jetstream.StreamSource{{Name: "LEDGER"}, {Name: outbox.Stream}, {Name: outbox.Stream, External: &jetstream.ExternalStream{APIPrefix: "$JS.P99.API"}},
		{Name: "OTHER", External: &jetstream.ExternalStream{APIPrefix: outbox.APIPrefix("31")}}}
	if got := outbox.Sourced(others); len(got) != 0 {
		t.Errorf("Sourced of other sources: %v", got)
	}
}
