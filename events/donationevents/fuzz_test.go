package donationevents

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"
)

// FuzzPayloads decodes arbitrary JSON into every donation payload and
// validates it: Validate never panics, whatever the decoding left in the
// value (also when decoding failed half-way); and a payload that
// validates keeps its promises: every quantity of a line or lot within
// bounds (a received lot may be 0: lost), known items and
// specifications, batch numbers of the documented shape, 1 to 50 lots
// (at most 50 received), no lot dispatched twice, a photo hash of 64
// lowercase hex digits.
func FuzzPayloads(f *testing.F) {
	f.Add([]byte(`{"hospital":"o-1","line":{"item":"mask_n95","spec":"N95","quantity":10000},"urgency":"critical","deliver_to":"南楼物资库","region":"420105","valid_until":"2026-03-01T00:00:00Z"}`))
	f.Add([]byte(`{"quantity":500,"urgency":"high","valid_until":"2026-03-01T00:00:00Z","note":"加急"}`))
	f.Add([]byte(`{"reason":"已满足"}`))
	f.Add([]byte(`{"donor":{"kind":"org","id":"o-2","name":"湖北省红十字会"},"need":"n-1","lines":[{"item":"mask_n95","spec":"N95","quantity":6000}]}`))
	f.Add([]byte(`{"hop":1,"from":{"kind":"org","id":"o-2"},"to":{"org":"o-3","unit":"呼吸科"},"lots":[{"item":"mask_n95","spec":"N95","quantity":4000,"batch":"B1"},{"item":"mask_n95","spec":"N95","quantity":2000,"batch":"B2"}],"via":"顺丰"}`))
	f.Add([]byte(`{"hop":1,"lots":[{"item":"mask_n95","spec":"N95","quantity":0,"batch":"B1"},{"item":"mask_n95","spec":"N95","quantity":1990,"batch":"B2"}],"condition":"damaged","photo_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","flags":["short"],"note":"一箱破损"}`))
	f.Add([]byte(`{"round":2,"verdict":"inconsistent","note":"10只去向不明"}`))
	f.Add([]byte(`{"reason":"review consistent, re-review inconsistent"}`))
	f.Add([]byte(`{"item":"gloves","spec":"M","quantity":1000000001,"day":"2026-02-30","unit":"ICU"}`))
	f.Add([]byte(`{"lots":[{"quantity":-1,"batch":"-"}],"hop":-9223372036854775808,"photo_hash":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			np NeedPublished
			nu NeedUpdated
			nc NeedClosed
			pl Pledged
			ds Dispatched
			rc Received
			rv Reviewed
			es Escalated
			co Consumed
		)
		valid := map[string]bool{}
		for name, p := range map[string]interface{ Validate() error }{
			"need.published": &np, "need.updated": &nu, "need.closed": &nc, "donation.pledged": &pl, "donation.dispatched": &ds,
			"donation.received": &rc, "donation.reviewed": &rv, "donation.escalated": &es, "stock.consumed": &co,
		} {
			_ = json.Unmarshal(data, p)
			valid[name] = p.Validate() == nil
		}
		if valid["need.published"] {
			checkLine(t, "need", np.Line, 1)
		}
		if valid["need.updated"] && (nu.Quantity < 1 || nu.Quantity > MaxQuantity) {
			t.Fatalf("need update of %d validates", nu.Quantity)
		}
		if valid["donation.pledged"] {
			if len(pl.Lines) < 1 || len(pl.Lines) > 50 {
				t.Fatalf("a pledge of %d lines validates", len(pl.Lines))
			}
			for _, l := range pl.Lines {
				checkLine(t, "pledge", l, 1)
			}
		}
		if valid["stock.consumed"] {
			checkLine(t, "consumption", co.Line, 1)
		}
		if valid["donation.dispatched"] {
			if ds.Hop < 1 || len(ds.Lots) < 1 || len(ds.Lots) > 50 || ds.To.Org == "" {
				t.Fatalf("dispatch %+v validates", ds)
			}
			for i, l := range ds.Lots {
				checkLine(t, "dispatch", l.Line, 1)
				checkBatch(t, "dispatch", l.Batch)
				if slices.ContainsFunc(ds.Lots[:i], func(o Lot) bool { return o.Item == l.Item && o.Spec == l.Spec && o.Batch == l.Batch }) {
					t.Fatalf("lot %+v dispatched twice validates", l)
				}
			}
		}
		if valid["donation.received"] {
			if rc.Hop < 1 || len(rc.Lots) > 50 || !hexHash.MatchString(rc.PhotoHash) {
				t.Fatalf("receipt %+v validates", rc)
			}
			for _, l := range rc.Lots {
				checkLine(t, "receipt", l.Line, 0)
				checkBatch(t, "receipt", l.Batch)
			}
			for _, fl := range rc.Flags {
				if fl != FlagShort {
					t.Fatalf("receipt flag %q validates", fl)
				}
			}
		}
		if valid["donation.reviewed"] && (rv.Round != 1 && rv.Round != 2 || rv.Verdict != Consistent && rv.Verdict != Inconsistent) {
			t.Fatalf("review %+v validates", rv)
		}
	})
}

// The documented shapes, written out again rather than taken from the
// package, so that a change to either is noticed.
var (
	batchShape = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$`)
	hexHash    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func checkLine(t *testing.T, what string, l Line, min int64) {
	t.Helper()
	if l.Quantity < min || l.Quantity > MaxQuantity {
		t.Fatalf("%s: quantity %d validates (bounds %d to %d)", what, l.Quantity, min, MaxQuantity)
	}
	it, ok := LookupItem(l.Item)
	if !ok || !slices.Contains(it.Specs, l.Spec) {
		t.Fatalf("%s: item %q spec %q validates", what, l.Item, l.Spec)
	}
}

func checkBatch(t *testing.T, what, b string) {
	t.Helper()
	if !batchShape.MatchString(b) {
		t.Fatalf("%s: batch %q validates", what, b)
	}
}
