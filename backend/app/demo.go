package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/onebook/onebook/events"
	evpasses "github.com/onebook/onebook/events/passes"
)

// Demo fills the ledger with a small, realistic entry/exit history: one
// district, three communities with two gates each, a few hundred passes and
// two weeks of scans, a few denied and a few revoked passes. It is
// idempotent: event ids are derived from a fixed seed, so a second run
// appends nothing new (duplicates are recognised by id).
func Demo(ctx context.Context, st events.Appender, reg *events.Registry, log *slog.Logger) error {
	rng := rand.New(rand.NewPCG(2020, 2))
	id := func() string {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		b[6] = b[6]&0x0f | 0x40 // version 4
		b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	const district = "110105" // 北京市朝阳区
	communities := []events.Region{district + "001001", district + "001002", district + "002001"}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	n, dups := 0, 0
	appendEv := func(typ string, agg events.Aggregate, region events.Region, at time.Time, p events.Payload) error {
		e, err := reg.New(typ, events.Meta{ID: id(), Aggregate: agg, Region: region, Actor: events.Actor{Role: "gate_operator", ID: "demo-operator"}, Time: at}, p)
		if err != nil {
			return err
		}
		_, err = st.Append(ctx, e, events.ExpectAny())
		switch {
		case err == nil:
			n++
		case errors.Is(err, events.ErrDuplicate):
			dups++
		default:
			return err
		}
		return nil
	}
	type pass struct {
		id        string
		community events.Region
		revoked   bool
	}
	var passes []pass
	for i := 0; i < 300; i++ {
		c := communities[i%len(communities)]
		p := pass{id: fmt.Sprintf("demo-pass-%03d", i), community: c}
		passes = append(passes, p)
		if err := appendEv(evpasses.TypeIssued, events.Aggregate{Kind: evpasses.KindPass, ID: p.id}, c, start,
			evpasses.Issued{Holder: fmt.Sprintf("demo-person-%03d", i), HolderOf: evpasses.HolderResident, Community: c, NotBefore: start, NotAfter: start.AddDate(0, 1, 0)}); err != nil {
			return err
		}
	}
	for day := 0; day < 14; day++ {
		for k := 0; k < 120; k++ {
			i := rng.IntN(len(passes))
			p := &passes[i]
			at := start.AddDate(0, 0, day).Add(time.Duration(rng.IntN(16*60)+6*60) * time.Minute)
			gate := fmt.Sprintf("%s-gate-%d", p.community, rng.IntN(2)+1)
			sc := evpasses.Scanned{ScanID: id(), Pass: p.id, Holder: fmt.Sprintf("demo-person-%03d", i), Community: p.community,
				Direction: []string{evpasses.In, evpasses.Out}[rng.IntN(2)], Decision: evpasses.Allow}
			if p.revoked {
				sc.Decision, sc.Reason = evpasses.Deny, "revoked"
			}
			if err := appendEv(evpasses.TypeScanned, events.Aggregate{Kind: evpasses.KindGate, ID: gate}, p.community, at, sc); err != nil {
				return err
			}
		}
		if day == 6 {
			p := &passes[7]
			p.revoked = true
			if err := appendEv(evpasses.TypeRevoked, events.Aggregate{Kind: evpasses.KindPass, ID: p.id}, p.community, start.AddDate(0, 0, day).Add(20*time.Hour),
				evpasses.Revoked{Reason: evpasses.ReasonLostPhone}); err != nil {
				return err
			}
		}
	}
	log.Info("demo data", "appended", n, "already_present", dups)
	return nil
}
