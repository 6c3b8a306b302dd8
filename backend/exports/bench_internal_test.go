package exports

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/schemas"
)

// BenchmarkVerifyEntry is what verify-export does per row of an event
// view besides reading the rows file and the proofs (readEntry): read the
// entry line, hash it for its leaf, open its payload (with the disclosed
// data key when sealed) and derive the row. Sealed ÷ clear here is the per-row part of
// ops bench's verify-export ratio.
func BenchmarkVerifyEntry(b *testing.B) {
	ctx := context.Background()
	mk := events.NewMemoryKeyring()
	sealing := schemas.Registry().WithKeyring(mk)
	p := passevents.Scanned{ScanID: events.NewID(), Pass: "p-8a7b6c5d", Holder: "h-2f9c1d0e", Community: "110105001001",
		Direction: passevents.In, Decision: passevents.Allow}
	e, err := sealing.New(ctx, passevents.TypeScanned, events.Meta{
		Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: "g001001-1"}, Region: "110105001001",
		Actor: events.Actor{Role: "gate_operator", ID: "op-001001-1"}, Time: time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC), SealTo: "h-2f9c1d0e",
	}, p)
	if err != nil {
		b.Fatal(err)
	}
	dk, err := sealing.DataKey(ctx, e)
	if err != nil {
		b.Fatal(err)
	}
	clear := e
	if clear.Payload, err = json.Marshal(p); err != nil {
		b.Fatal(err)
	}
	line := func(e events.Event, key []byte) []byte {
		c, err := e.Canonical()
		if err != nil {
			b.Fatal(err)
		}
		l := lineIndex + "123456" + lineEvent + string(c)
		if key != nil {
			l += lineKey + base64.StdEncoding.EncodeToString(key) + `"`
		}
		return []byte(l + "}")
	}
	reg := schemas.Registry()
	scans := View{Name: "scans", EventType: passevents.TypeScanned, Kind: passevents.KindGate}
	for _, bm := range []struct {
		name string
		line []byte
	}{
		{"clear", line(clear, nil)},
		{"sealed", line(e, dk)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.line)))
			for b.Loop() {
				c := readEntry(ctx, reg, scans, numberedLine{n: 1, b: bm.line})
				if c.notObj != "" || c.notEv != "" || c.rowErr != "" || c.row == nil {
					b.Fatalf("readEntry: %+v", c)
				}
			}
		})
	}
}
