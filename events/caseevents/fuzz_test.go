package caseevents

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/onebook/onebook/events"
)

// FuzzValidate decodes arbitrary JSON into a card and into each case event
// and validates them: Validate never panics, and what it accepts is
// consistent: dates that parse (and print back as given) with onset ≤
// diagnosis ≤ report, a known disease, a residence of a district or finer
// whose count is valid, groups that follow from the symptoms.
func FuzzValidate(f *testing.F) {
	card := `{"disease":"plague","diagnosis":"confirmed","onset":"2026-02-01","diagnosed":"2026-02-02","reported":"2026-02-03",` +
		`"symptoms":["fever","cough"],"residence":"110105001001","occupation":"farmer","severity":"severe"}`
	sealed := `{"key_id":"case-c-1","ciphertext":"bm9uY2VjaXBoZXI=","id_index":"aWR4","phone_index":"cGg=","last4_index":"bDQ="}`
	f.Add([]byte(card))
	f.Add([]byte(`{"hospital":"o-1","patient":"p-1","personal":` + sealed + `,"card":` + card + `,"groups":["respiratory"]}`))
	f.Add([]byte(`{"card":` + card + `,"groups":["respiratory"],"note":"更正","previous":{"district":"110105","day":"2026-02-03","disease":"plague","groups":[]}}`))
	f.Add([]byte(`{"level":"district","decision":"revoke","reason":"重复报告","round":1,"counted":{"district":"110105","day":"2026-02-03","disease":"plague"}}`))
	f.Add([]byte(`{"level":"hospital","decision":"approve","round":1}`))
	f.Add([]byte(`{"disease":"plague","diagnosis":"clinical","onset":"2026-02-29","diagnosed":"2026-3-01","reported":"+2026-03-01","residence":"1101"}`))
	f.Add([]byte(`{"disease":"cholera","diagnosis":"suspected","onset":"0000-01-01","diagnosed":"9999-12-31","reported":"9999-12-31",` +
		`"symptoms":[],"residence":"990101","occupation":"other","severity":"mild"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Card
		if json.Unmarshal(data, &c) == nil && c.Validate() == nil {
			validCard(t, c)
		}
		var fl Filed
		if json.Unmarshal(data, &fl) == nil && fl.Validate() == nil {
			validCard(t, fl.Card)
			validGroups(t, fl.Card, fl.Groups)
		}
		var co Corrected
		if json.Unmarshal(data, &co) == nil && co.Validate() == nil {
			validCard(t, co.Card)
			validGroups(t, co.Card, co.Groups)
			if _, err := Day(co.Previous.Day); err != nil || len(co.Previous.District) != 6 {
				t.Fatalf("valid correction with previous count %+v", co.Previous)
			}
		}
		var r Reviewed
		if json.Unmarshal(data, &r) == nil && r.Validate() == nil {
			if !slices.Contains(Levels(), r.Level) || r.Round < 1 || (r.Decision == Revoke) != (r.Counted != nil) ||
				r.Decision != Approve && r.Decision != Return && r.Decision != Revoke {
				t.Fatalf("valid review %+v", r)
			}
		}
	})
}

// validCard checks what a card that validates promises.
func validCard(t *testing.T, c Card) {
	t.Helper()
	onset, err1 := Day(c.Onset)
	diag, err2 := Day(c.Diagnosed)
	rep, err3 := Day(c.Reported)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("valid card with dates that do not parse: %+v", c)
	}
	if diag.Before(onset) || rep.Before(diag) {
		t.Fatalf("valid card with dates out of order: %+v", c)
	}
	for _, d := range []string{c.Onset, c.Diagnosed, c.Reported} {
		if x, _ := Day(d); x.Format(DateLayout) != d {
			t.Fatalf("valid card date %q prints as %q", d, x.Format(DateLayout))
		}
	}
	if _, ok := LookupDisease(c.Disease); !ok {
		t.Fatalf("valid card with disease %q", c.Disease)
	}
	if r, err := events.ParseRegion(string(c.Residence)); err != nil || len(r) < 6 {
		t.Fatalf("valid card with residence %q", c.Residence)
	}
	// Where it counts must itself be valid (CountedAs cuts the residence).
	if err := CountedAs(c, SymptomGroups(c.Symptoms), c.Reported).validate("counted"); err != nil {
		t.Fatalf("valid card counts nowhere: %v (%+v)", err, c)
	}
	if len(c.Symptoms) > 20 {
		t.Fatalf("valid card with %d symptoms", len(c.Symptoms))
	}
}

// validGroups checks that an event's groups follow from its symptoms.
func validGroups(t *testing.T, c Card, groups []string) {
	t.Helper()
	want := SymptomGroups(c.Symptoms)
	if !slices.Equal(groups, want) && !(len(groups) == 0 && len(want) == 0) {
		t.Fatalf("valid event with groups %v for symptoms %v", groups, c.Symptoms)
	}
}
