package tracing_test

import (
	"context"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/ledger/natstest"
)

// TestRealLedger records the access events in an embedded JetStream ledger
// and reads them back as the ledger holds them.
func TestRealLedger(t *testing.T) {
	l := natstest.OpenLedger(t, time.Minute)
	ctx, st := l.Ctx, l.Store
	f := newFixture(t)
	f.svc.Store = st
	g, err := f.svc.TraceGate(ctx, gov, gateQ())
	if err != nil {
		t.Fatal(err)
	}
	pt, err := f.svc.TracePerson(ctx, gov, personQ())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.Load(ctx, gov.Scope, events.Aggregate{Kind: access.Kind, ID: gov.Subject})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Event.ID != g.AccessID || recs[1].Event.ID != pt.AccessID {
		t.Fatalf("%d access events in the ledger", len(recs))
	}
	for _, r := range recs {
		e, err := events.Parse(r.Raw)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := events.DecodeAs[access.Logged](context.Background(), f.reg, e)
		if err != nil || pl.Purpose != reason {
			t.Fatalf("%+v %v", pl, err)
		}
	}
}
