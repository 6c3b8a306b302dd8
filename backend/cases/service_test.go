package cases_test

import (
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/casestest"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/caseevents"
)

var start = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

// TestReviewChain walks a card up every level, with a return and a
// correction on the way, and checks who may act at each step.
func TestReviewChain(t *testing.T) {
	w := casestest.New(t, start)
	h := w.Hospital("协和医院", "420102003")
	other := w.Hospital("同济医院", "420104001")
	reporter := w.Staff(auth.HospitalReporter, "", h.ID)
	hospRev := w.Staff(auth.HospitalReviewer, "", h.ID)
	otherRev := w.Staff(auth.HospitalReviewer, "", other.ID)
	district := w.Staff(auth.CDCReviewer, "420102", "")
	wrongDistrict := w.Staff(auth.CDCReviewer, "420104", "")
	city := w.Staff(auth.CDCReviewer, "4201", "")
	province := w.Staff(auth.CDCReviewer, "42", "")
	national := w.Staff(auth.CDCReviewer, events.National, "")
	ctx := w.Ctx

	c := w.File(reporter, 7, w.Card("covid19", "420106001", "fever", "cough"))
	if c.Status != caseevents.StatusPending || c.Level != caseevents.LevelHospital || c.Counted.District != "420106" || c.Patient == "" {
		t.Fatalf("filed card = %+v", c)
	}
	review := func(p auth.Principal, decision, reason string) (cases.Card, error) {
		return w.Cases.Review(ctx, p, c.ID, cases.ReviewInput{Decision: decision, Reason: reason})
	}
	// Out of turn and out of scope.
	for _, tc := range []struct {
		name string
		p    auth.Principal
		code events.Code
	}{
		{"another hospital's reviewer", otherRev, events.CodeForbidden},
		{"district before the hospital", district, events.CodeConflict},
		{"the reporter", reporter, events.CodeForbidden},
	} {
		if _, err := review(tc.p, caseevents.Approve, ""); events.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if _, err := review(hospRev, caseevents.Return, ""); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("return without a reason: %v", err)
	}
	if _, err := review(hospRev, caseevents.Approve, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := review(wrongDistrict, caseevents.Approve, ""); events.ErrorCode(err) != events.CodeForbidden {
		t.Errorf("a district CDC outside the hospital's district: %v", err)
	}
	got, err := review(district, caseevents.Return, "onset date looks wrong")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != caseevents.StatusReturned {
		t.Fatalf("after return: %s", got.Status)
	}
	agree(t, w)
	// Correction: moves the residence, re-enters at the hospital level.
	fixed := w.Card("covid19", "420111002", "fever", "cough")
	if _, err := w.Cases.Correct(ctx, reporter, c.ID, cases.CorrectInput{Card: fixed}); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("correction without a note: %v", err)
	}
	got, err = w.Cases.Correct(ctx, reporter, c.ID, cases.CorrectInput{Card: fixed, Note: "residence corrected"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != caseevents.StatusPending || got.Level != caseevents.LevelHospital || got.Round != 2 || got.Counted.District != "420111" || got.Counted.Day != "2026-11-20" {
		t.Fatalf("corrected card = %+v", got)
	}
	if _, err := w.Cases.Correct(ctx, reporter, c.ID, cases.CorrectInput{Card: fixed, Note: "again"}); events.ErrorCode(err) != events.CodeConflict {
		t.Errorf("correcting a pending card: %v", err)
	}
	for _, p := range []auth.Principal{hospRev, district, city, province, national} {
		if got, err = review(p, caseevents.Approve, ""); err != nil {
			t.Fatalf("%s approves: %v", p.Scope, err)
		}
	}
	if got.Status != caseevents.StatusApproved || len(got.History) != 9 {
		t.Errorf("final card: %s with %d steps", got.Status, len(got.History))
	}
	if _, err := review(national, caseevents.Revoke, "too late"); events.ErrorCode(err) != events.CodeConflict {
		t.Errorf("revoking an approved card: %v", err)
	}
	agree(t, w)
}

// TestFileValidation: each bad field is named.
func TestFileValidation(t *testing.T) {
	w := casestest.New(t, start)
	h := w.Hospital("协和医院", "420102003")
	reporter := w.Staff(auth.HospitalReporter, "", h.ID)
	good := w.Card("measles", "420102001", "fever", "rash")
	tests := []struct {
		field string
		edit  func(*cases.FileInput)
	}{
		{"card.disease", func(in *cases.FileInput) { in.Card.Disease = "flu" }},
		{"card.diagnosis", func(in *cases.FileInput) { in.Card.Diagnosis = "maybe" }},
		{"card.onset", func(in *cases.FileInput) { in.Card.Onset = "2026-13-01" }},
		{"card.diagnosed", func(in *cases.FileInput) { in.Card.Onset = "2026-11-20"; in.Card.Diagnosed = "2026-11-19" }},
		{"card.reported", func(in *cases.FileInput) { in.Card.Reported = "2026-11-21"; in.Card.Diagnosed = "2026-11-21" }},
		{"card.symptoms", func(in *cases.FileInput) { in.Card.Symptoms = []string{"sneezing"} }},
		{"card.residence", func(in *cases.FileInput) { in.Card.Residence = "4201" }},
		{"card.residence", func(in *cases.FileInput) { in.Card.Residence = "990101" }},
		{"card.occupation", func(in *cases.FileInput) { in.Card.Occupation = "astronaut" }},
		{"card.severity", func(in *cases.FileInput) { in.Card.Severity = "grave" }},
		{"card.onset", func(in *cases.FileInput) { in.Card.Onset = "2024-01-01" }},
		{"patient.id_number", func(in *cases.FileInput) { in.Patient.IDNumber = "420106198001010011" }},
		{"patient.name", func(in *cases.FileInput) { in.Patient.Name = "" }},
	}
	for _, tc := range tests {
		in := cases.FileInput{Patient: cases.Patient{Name: "王伟", IDNumber: casestest.IDNumber("420102", 1), Phone: "13900000000"}, Card: good}
		tc.edit(&in)
		_, err := w.Cases.File(w.Ctx, reporter, in)
		var e *events.Error
		if err == nil || !strings.HasPrefix(err.Error(), "invalid") {
			t.Errorf("%s: err = %v, want invalid", tc.field, err)
			continue
		}
		if e = err.(*events.Error); e.Field != tc.field {
			t.Errorf("%s: field = %q (%v)", tc.field, e.Field, err)
		}
	}
	size, _ := w.Store.Size(w.Ctx)
	if _, err := w.Cases.File(w.Ctx, w.Staff(auth.CDCReviewer, "42", ""), cases.FileInput{Card: good}); events.ErrorCode(err) != events.CodeForbidden {
		t.Errorf("a CDC reviewer files: %v", err)
	}
	if after, _ := w.Store.Size(w.Ctx); after != size+2 { // the staff account's two events only
		t.Errorf("refused filings wrote %d events", after-size-2)
	}
}

// TestReadsAreRecorded: reading a card records who read it, why, and
// which card, before the data is returned; full identity only where the
// purpose allows it; out-of-scope staff cannot tell the card exists.
func TestReadsAreRecorded(t *testing.T) {
	w := casestest.New(t, start)
	h := w.Hospital("协和医院", "420102003")
	reporter := w.Staff(auth.HospitalReporter, "", h.ID)
	c := w.File(reporter, 3, w.Card("dengue", "420102001", "fever", "rash"))
	cdc := w.Staff(auth.CDCReviewer, "4201", "")
	outside := w.Staff(auth.CDCReviewer, "4301", "")
	ctx := w.Ctx

	v, err := w.Cases.Read(ctx, cdc, c.ID, cases.ReadInput{Purpose: "statistics", Reason: "weekly dengue review"})
	if err != nil {
		t.Fatal(err)
	}
	if v.PatientName == casestest.Name(3) || !strings.Contains(v.PatientIDNumber, "*") || v.Identity != "masked" {
		t.Errorf("masked read shows %q %q", v.PatientName, v.PatientIDNumber)
	}
	if _, err := w.Cases.Read(ctx, cdc, c.ID, cases.ReadInput{Purpose: "statistics", Reason: "weekly dengue review", FullIdentity: true}); events.ErrorCode(err) != events.CodeForbidden {
		t.Errorf("full identity for statistics: %v", err)
	}
	v, err = w.Cases.Read(ctx, cdc, c.ID, cases.ReadInput{Purpose: "investigation", Reason: "contact the patient", FullIdentity: true})
	if err != nil || v.PatientName != casestest.Name(3) || v.PatientIDNumber != casestest.IDNumber("420102", 3) {
		t.Fatalf("full read: %v %+v", err, v)
	}
	if _, err := w.Cases.Read(ctx, outside, c.ID, cases.ReadInput{Purpose: "statistics", Reason: "weekly dengue review"}); events.ErrorCode(err) != events.CodeNotFound {
		t.Errorf("out of scope: %v, want not found", err)
	}
	if _, err := w.Cases.Read(ctx, cdc, c.ID, cases.ReadInput{Purpose: "statistics"}); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("no reason: %v", err)
	}
	list, _, err := w.Cases.List(ctx, cdc, cases.ListInput{Purpose: "statistics", Reason: "weekly dengue review"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %d", err, len(list))
	}
	// The ledger holds three access events naming the card.
	size, _ := w.Store.Size(ctx)
	var reads []access.Logged
	w.Store.Scan(ctx, 1, size, func(rec events.Recorded) error {
		e, _ := events.Parse(rec.Raw)
		if e.Type == access.TypeLogged {
			p, _ := w.Reg.Decode(ctx, e)
			reads = append(reads, p.(access.Logged))
		}
		return nil
	})
	if len(reads) != 3 {
		t.Fatalf("%d access events, want 3", len(reads))
	}
	for _, r := range reads {
		if len(r.Subjects) != 1 || r.Subjects[0] != c.ID {
			t.Errorf("access event %+v does not name the card", r)
		}
	}
	if reads[1].Identity != "full" || reads[1].Query["purpose"] != "investigation" {
		t.Errorf("full read recorded as %+v", reads[1])
	}
}
