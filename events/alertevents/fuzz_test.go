package alertevents

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"testing"
)

// FuzzValidate decodes arbitrary JSON into a rule and into each alert event
// and validates them: Validate never panics; a rule that validates has a
// known method, target and level, 1 to 100 codes and finite parameters in
// range, and goes through JSON (as the ledger keeps it) unchanged and
// still valid.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"method":"threshold","target":"disease","codes":["plague","cholera"],"level":6,"k":1,"enabled":true}`))
	f.Add([]byte(`{"method":"percentile","target":"disease","codes":["influenza"],"level":6,"period":7,"years":3,"half_width":1,"p":0.5,"enabled":true}`))
	f.Add([]byte(`{"method":"ears_c3","target":"group","codes":["respiratory"],"level":4,"z":1.96,"min_sigma":1}`))
	f.Add([]byte(`{"method":"cluster","target":"group","codes":["gastrointestinal"],"level":2,"k":5,"days":3,"description":"聚集"}`))
	f.Add([]byte(`{"method":"ears_c1","target":"group","codes":["rash"],"level":6,"k":1e400}`))
	f.Add([]byte(`{"version":2,"rule":{"method":"ears_c2","target":"group","codes":["fever"],"level":6},"reason":"调整"}`))
	f.Add([]byte(`{"rule":"first-case","rule_version":1,"method":"threshold","target":"disease","code":"plague","region":"110105","day":"2026-02-01",` +
		`"observed":1,"statistic":1,"threshold":1,"cases":["c-1"],"trigger":"c-1","filed_at":"2026-02-01T00:00:00Z"}`))
	f.Add([]byte(`{"deliveries":[{"channel":"wechat","recipient":"s-1","ok":true},{"channel":"fax"}]}`))
	f.Add([]byte(`{"outcome":"false_alarm","note":"误报","findings":"无"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Rule
		if json.Unmarshal(data, &r) == nil && r.Validate() == nil {
			validRule(t, r)
		}
		var rp RulePublished
		if json.Unmarshal(data, &rp) == nil && rp.Validate() == nil {
			validRule(t, rp.Rule)
			if rp.Version < 1 {
				t.Fatalf("valid publication of version %d", rp.Version)
			}
		}
		var ra Raised
		if json.Unmarshal(data, &ra) == nil && ra.Validate() == nil {
			if len(ra.Cases) == 0 || len(ra.Cases) > MaxCases || ra.Trigger == "" || math.IsNaN(ra.Statistic) {
				t.Fatalf("valid alert %+v", ra)
			}
		}
		for _, p := range []interface{ Validate() error }{&Notified{}, &Acknowledged{}, &Investigated{}, &Closed{}} {
			if json.Unmarshal(data, p) == nil {
				_ = p.Validate()
			}
		}
		var c Closed
		if json.Unmarshal(data, &c) == nil && c.Validate() == nil && !slices.Contains(Outcomes(), c.Outcome) {
			t.Fatalf("valid closure with outcome %q", c.Outcome)
		}
	})
}

// validRule checks what a rule that validates promises.
func validRule(t *testing.T, r Rule) {
	t.Helper()
	if !slices.Contains(Methods(), r.Method) || (r.Target != TargetDisease && r.Target != TargetGroup) ||
		(r.Level != 2 && r.Level != 4 && r.Level != 6) || len(r.Codes) == 0 || len(r.Codes) > 100 {
		t.Fatalf("valid rule %+v", r)
	}
	for _, v := range []float64{r.K, r.Z, r.MinSigma, r.P} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e6 {
			t.Fatalf("valid rule with parameter %g: %+v", v, r)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("valid rule does not encode: %v", err)
	}
	var back Rule
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) || back.Validate() != nil {
		t.Fatalf("valid rule %+v comes back from %s as %+v (%v)", r, b, back, back.Validate())
	}
}
