package tracing_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/tracing"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/memstore"
	"github.com/onebook/onebook/projections/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// idNumber completes 17 digits with the GB 11643 check character.
func idNumber(first17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * w[i]
	}
	return first17 + string("10X98765432"[sum%11])
}

// fakeIdentity is an Identity over a map; Index is a plain hash, which is
// enough to test the service's use of it.
type fakeIdentity struct {
	mu       sync.Mutex
	people   map[string]tracing.Person // by person id
	erased   map[string]bool
	fail     error
	resolved map[string]int
}

func (f *fakeIdentity) Index(kind, value string) string {
	sum := sha256.Sum256([]byte("idx:" + kind + ":" + value))
	return hex.EncodeToString(sum[:])
}

func (f *fakeIdentity) Resolve(ctx context.Context, pid string) (tracing.Person, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved[pid]++
	if f.fail != nil {
		return tracing.Person{}, f.fail
	}
	if f.erased[pid] {
		return tracing.Person{}, events.Errorf(events.CodeNotFound, "personal data of %s was erased", pid)
	}
	p, ok := f.people[pid]
	if !ok {
		return tracing.Person{}, events.Errorf(events.CodeNotFound, "no such person")
	}
	return p, nil
}

func (f *fakeIdentity) pid(id string) string { return accounts.PersonID(f.Index("id", id)) }

// fakeLedger records appended events.
type fakeLedger struct {
	mu     sync.Mutex
	events []events.Event
	fail   error
}

func (l *fakeLedger) Append(ctx context.Context, e events.Event, x events.Expect) (events.Recorded, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return events.Recorded{}, l.fail
	}
	raw, err := e.Canonical()
	if err != nil {
		return events.Recorded{}, err
	}
	l.events = append(l.events, e)
	return events.Recorded{Seq: uint64(len(l.events)), Raw: raw, Event: e}, nil
}

const (
	c1 = events.Region("110105001001") // district 110105
	c2 = events.Region("110106002001") // district 110106
)

var (
	t0      = time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	idAlice = idNumber("11010519900307123")
	idBob   = idNumber("11010619851224456")
	idCarol = idNumber("11010520000101789")
	idNoone = idNumber("11010519700101111")
)

const (
	nameAlice = "张三丰"
	nameBob   = "欧阳娜娜"
	nameCarol = "王五"
)

type fixture struct {
	svc    *tracing.Service
	id     *fakeIdentity
	ledger *fakeLedger
	reg    *events.Registry
	alice  string // person ids
	bob    string
	carol  string
}

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg := events.NewRegistry().WithKeyring(events.NewMemoryKeyring())
	passevents.Register(reg)
	access.Register(reg)
	id := &fakeIdentity{people: map[string]tracing.Person{}, erased: map[string]bool{}, resolved: map[string]int{}}
	f := &fixture{id: id, ledger: &fakeLedger{}, reg: reg, alice: id.pid(idAlice), bob: id.pid(idBob), carol: id.pid(idCarol)}
	id.people[f.alice] = tracing.Person{Name: nameAlice, IDNumber: idAlice}
	id.people[f.bob] = tracing.Person{Name: nameBob, IDNumber: idBob}
	id.people[f.carol] = tracing.Person{Name: nameCarol, IDNumber: idCarol}
	id.erased[f.carol] = true
	gates := map[string]events.Region{"g1": c1, "g2": c1, "g3": c2}
	docs := memstore.New()
	project(t, reg, docs, []struct {
		at                              time.Time
		gate, holder, direction, denial string
	}{
		{at(5), "g1", f.alice, "in", ""},
		{at(10), "g1", f.bob, "in", ""},
		{at(20), "g1", f.carol, "out", ""},
		{at(25), "g1", "", "in", "malformed"},
		{at(30), "g2", f.alice, "out", ""},
		{at(40), "g3", f.alice, "in", "wrong_community"},
		{at(50), "g3", f.bob, "in", ""},
		{at(120), "g1", f.bob, "out", ""}, // outside the hour asked for
	}, gates)
	f.svc = &tracing.Service{Store: f.ledger, Reg: reg, Docs: docs, Identity: id,
		Gates: func(g string) (events.Region, bool) { c, ok := gates[g]; return c, ok },
		Now:   func() time.Time { return t0.Add(48 * time.Hour) }}
	return f
}

// project folds scans through a Recomputer, as a projector would, and
// stores the documents of the trace views.
func project(t *testing.T, reg *events.Registry, docs projections.DocStore, scans []struct {
	at                              time.Time
	gate, holder, direction, denial string
}, gates map[string]events.Region) {
	t.Helper()
	rc := projections.NewRecomputer(reg, trace.All()...)
	for i, s := range scans {
		p := passevents.Scanned{ScanID: fmt.Sprintf("s%d", i), Pass: fmt.Sprintf("pass-%d", i), Holder: s.holder, Community: gates[s.gate],
			Direction: s.direction, Decision: passevents.Allow}
		if s.denial != "" {
			p.Decision, p.Reason = passevents.Deny, s.denial
		}
		e, err := reg.New(context.Background(), passevents.TypeScanned, events.Meta{SealTo: "t-subject", Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: s.gate},
			Region: gates[s.gate], Actor: events.Actor{Role: "gate_operator", ID: "op"}, Time: s.at}, p)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := e.Canonical()
		if err := rc.Add(context.Background(), events.Recorded{Seq: uint64(i + 1), Raw: raw, Event: e}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range trace.All() {
		var ds []*projections.Doc
		for _, d := range rc.Docs(p.Name()) {
			ds = append(ds, d)
		}
		if err := docs.Put(context.Background(), p, ds); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	gov       = auth.Principal{Subject: "s-gov1", Role: auth.GovAnalyst, Scope: "110105"}
	govOther  = auth.Principal{Subject: "s-gov2", Role: auth.GovAnalyst, Scope: "110106"}
	govCity   = auth.Principal{Subject: "s-gov3", Role: auth.GovAnalyst, Scope: "1101"}
	govNoScop = auth.Principal{Subject: "s-gov4", Role: auth.GovAnalyst}
)

const reason = "密接排查：确诊病例 2026-0207 号的接触者"

func gateQ() tracing.GateQuery {
	return tracing.GateQuery{Gates: []string{"g1", "g2"}, Ask: tracing.Ask{From: t0, To: t0.Add(time.Hour), Purpose: "contact_tracing", Reason: reason}}
}

func personQ() tracing.PersonQuery {
	return tracing.PersonQuery{IDNumber: idAlice, Ask: tracing.Ask{From: t0, To: t0.Add(time.Hour), Purpose: "contact_tracing", Reason: reason}}
}

func wantErr(t *testing.T, err error, code events.Code, field string) {
	t.Helper()
	var e *events.Error
	if !errors.As(err, &e) || e.Code != code || (field != "" && e.Field != field) {
		t.Fatalf("got %v, want %s on field %q", err, code, field)
	}
}

// TestAuthorization is the matrix: every staff role and the resident, in
// and out of scope, for both queries.
func TestAuthorization(t *testing.T) {
	roles := append(auth.StaffRoles(), auth.Resident)
	for _, role := range roles {
		for _, scope := range []struct {
			name   string
			region events.Region
		}{{"in scope", "110105"}, {"out of scope", "110106"}} {
			if role == auth.Resident {
				scope.region = c1
				if scope.name == "out of scope" {
					scope.region = c2
				}
			}
			t.Run(string(role)+" "+scope.name, func(t *testing.T) {
				f := newFixture(t)
				p := auth.Principal{Subject: "s-x", Role: role, Scope: scope.region}
				ctx := context.Background()
				g, gerr := f.svc.TraceGate(ctx, p, gateQ())
				pt, perr := f.svc.TracePerson(ctx, p, personQ())
				switch {
				case role != auth.GovAnalyst:
					wantErr(t, gerr, events.CodeForbidden, "")
					wantErr(t, perr, events.CodeForbidden, "")
					if len(f.ledger.events) != 0 || len(f.id.resolved) != 0 {
						t.Fatalf("a refused query read or logged: %d events, %d resolved", len(f.ledger.events), len(f.id.resolved))
					}
				case scope.name == "in scope":
					if gerr != nil || perr != nil || len(g.Rows) != 5 || len(pt.Rows) != 2 {
						t.Fatalf("gate: %d rows, %v; person: %d rows, %v", len(g.Rows), gerr, len(pt.Rows), perr)
					}
					if len(f.ledger.events) != 2 {
						t.Fatalf("%d access events, want 2", len(f.ledger.events))
					}
				default: // a government analyst of another district
					wantErr(t, gerr, events.CodeForbidden, "gates")
					if !strings.Contains(gerr.Error(), "g1") {
						t.Errorf("the refusal does not name the gate: %v", gerr)
					}
					// The person query is allowed but shows only the
					// analyst's own district: alice's scan at g3.
					if perr != nil || len(pt.Rows) != 1 || pt.Rows[0].Gate != "g3" {
						t.Fatalf("person: %+v, %v", pt.Rows, perr)
					}
					if len(f.ledger.events) != 1 {
						t.Fatalf("%d access events, want 1 (the person query)", len(f.ledger.events))
					}
				}
			})
		}
	}
	t.Run("anonymous", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.svc.TraceGate(context.Background(), auth.Principal{}, gateQ())
		wantErr(t, err, events.CodeUnauthorized, "")
		_, err = f.svc.TracePerson(context.Background(), auth.Principal{}, personQ())
		wantErr(t, err, events.CodeUnauthorized, "")
	})
	t.Run("gates partly out of scope", func(t *testing.T) {
		f := newFixture(t)
		q := gateQ()
		q.Gates = []string{"g1", "g3"}
		_, err := f.svc.TraceGate(context.Background(), gov, q)
		wantErr(t, err, events.CodeForbidden, "gates")
		if len(f.ledger.events) != 0 {
			t.Fatal("a refused query was logged")
		}
	})
	t.Run("no scope", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.svc.TracePerson(context.Background(), govNoScop, personQ())
		wantErr(t, err, events.CodeForbidden, "")
	})
}

// TestPersonScope: a person trace returns only the scans the caller's scope
// covers, and reads the name only if there is one.
func TestPersonScope(t *testing.T) {
	tests := []struct {
		p     auth.Principal
		gates []string
	}{
		{gov, []string{"g1", "g2"}},
		{govOther, []string{"g3"}},
		{govCity, []string{"g1", "g2", "g3"}},
		{auth.Principal{Subject: "s-gov5", Role: auth.GovAnalyst, Scope: "110107"}, nil},
		{auth.Principal{Subject: "s-gov6", Role: auth.GovAnalyst, Scope: c2}, []string{"g3"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.p.Scope), func(t *testing.T) {
			f := newFixture(t)
			pt, err := f.svc.TracePerson(context.Background(), tt.p, personQ())
			if err != nil {
				t.Fatal(err)
			}
			var gates []string
			for _, r := range pt.Rows {
				gates = append(gates, r.Gate)
				if !tt.p.Scope.Covers(r.Community) {
					t.Errorf("row out of scope: %+v", r)
				}
			}
			if fmt.Sprint(gates) != fmt.Sprint(tt.gates) {
				t.Errorf("gates %v, want %v", gates, tt.gates)
			}
			if pt.PersonID != f.alice || pt.IDNumber != "110105********"+idAlice[14:] {
				t.Errorf("person %s %s", pt.PersonID, pt.IDNumber)
			}
			if len(tt.gates) == 0 {
				if pt.Name != "" || f.id.resolved[f.alice] != 0 {
					t.Errorf("no rows, yet the name was read: %q", pt.Name)
				}
			} else if pt.Name != "张**" {
				t.Errorf("name %q", pt.Name)
			}
			e := f.ledger.events[0]
			pl, _ := events.DecodeAs[access.Logged](context.Background(), f.reg, e)
			if pl.Results != len(tt.gates) {
				t.Errorf("logged %d results, returned %d", pl.Results, len(tt.gates))
			}
		})
	}
}

// TestIdentity: masked by default; full only where the purpose allows it.
func TestIdentity(t *testing.T) {
	tests := []struct {
		purpose string
		full    bool
		code    events.Code // "" = allowed
	}{
		{"contact_tracing", false, ""},
		{"contact_tracing", true, ""},
		{"outbreak_statistics", false, ""},
		{"outbreak_statistics", true, events.CodeForbidden},
		{"audit_check", false, ""},
		{"audit_check", true, events.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s full=%v", tt.purpose, tt.full), func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			q := gateQ()
			q.Purpose, q.FullIdentity = tt.purpose, tt.full
			g, err := f.svc.TraceGate(ctx, gov, q)
			pq := personQ()
			pq.Purpose, pq.FullIdentity = tt.purpose, tt.full
			pt, perr := f.svc.TracePerson(ctx, gov, pq)
			if tt.code != "" {
				wantErr(t, err, tt.code, "full_identity")
				wantErr(t, perr, tt.code, "full_identity")
				if !strings.Contains(err.Error(), tt.purpose) || !strings.Contains(err.Error(), "masked") {
					t.Errorf("refusal does not say why: %v", err)
				}
				if len(f.ledger.events) != 0 || len(f.id.resolved) != 0 {
					t.Error("a refused query read or logged")
				}
				return
			}
			if err != nil || perr != nil {
				t.Fatal(err, perr)
			}
			byPerson := map[string][2]string{}
			for _, r := range g.Rows {
				byPerson[r.PersonID] = [2]string{r.Name, r.IDNumber}
			}
			want := map[string][2]string{
				f.alice: {"张**", "110105********" + idAlice[14:]},
				f.bob:   {"欧***", "110106********" + idBob[14:]},
				f.carol: {tracing.Erased, tracing.Erased},
				"":      {"", ""},
			}
			wantMode, wantPerson := tracing.Masked, [2]string{"张**", "110105********" + idAlice[14:]}
			if tt.full {
				want[f.alice] = [2]string{nameAlice, idAlice}
				want[f.bob] = [2]string{nameBob, idBob}
				wantMode, wantPerson = tracing.Full, [2]string{nameAlice, idAlice}
			}
			if fmt.Sprint(byPerson) != fmt.Sprint(want) {
				t.Errorf("identities\n got %v\nwant %v", byPerson, want)
			}
			if g.Identity != wantMode || pt.Identity != wantMode || [2]string{pt.Name, pt.IDNumber} != wantPerson {
				t.Errorf("modes %s %s, person %s %s", g.Identity, pt.Identity, pt.Name, pt.IDNumber)
			}
			for pid, n := range f.id.resolved {
				if n != 2 && pid == f.alice || n != 1 && pid != f.alice {
					t.Errorf("person %s resolved %d times (once per query)", pid, n)
				}
			}
		})
	}
}

// TestAccessEvent: one access event per query, before the data, with the
// right fields and no personal data in clear.
func TestAccessEvent(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprint("full=", full), func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			q := gateQ()
			q.Gates = []string{"g2", "g1", "g2"}
			q.FullIdentity = full
			g, err := f.svc.TraceGate(ctx, gov, q)
			if err != nil {
				t.Fatal(err)
			}
			pq := personQ()
			pq.IDNumber = " " + strings.ToLower(idAlice) + " " // normalised by ParseIDNumber
			pq.FullIdentity = full
			pt, err := f.svc.TracePerson(ctx, gov, pq)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.ledger.events) != 2 {
				t.Fatalf("%d events, want 2", len(f.ledger.events))
			}
			mode := map[bool]string{false: "masked", true: "full"}[full]
			want := []struct {
				id    string
				what  string
				query map[string]string
				n     int
			}{
				{g.AccessID, "trace.gate", map[string]string{"purpose": "contact_tracing", "gates": "g2,g1", "from": "2026-02-01T09:00:00Z", "to": "2026-02-01T10:00:00Z"}, 5},
				{pt.AccessID, "trace.person", map[string]string{"purpose": "contact_tracing", "id_index": f.id.Index("id", idAlice), "person": f.alice, "from": "2026-02-01T09:00:00Z", "to": "2026-02-01T10:00:00Z"}, 2},
			}
			for i, e := range f.ledger.events {
				w := want[i]
				if e.ID != w.id || e.Type != access.TypeLogged || e.Aggregate != (events.Aggregate{Kind: "access", ID: "s-gov1"}) ||
					e.Region != "110105" || e.Actor != (events.Actor{Role: "gov_analyst", ID: "s-gov1"}) || !e.Time.Equal(t0.Add(48*time.Hour)) {
					t.Errorf("envelope %+v", e)
				}
				pl, err := events.DecodeAs[access.Logged](context.Background(), f.reg, e)
				if err != nil {
					t.Fatal(err)
				}
				if pl.What != w.what || pl.Purpose != reason || fmt.Sprint(pl.Query) != fmt.Sprint(w.query) || pl.Results != w.n || pl.Identity != mode {
					t.Errorf("payload %+v, want %+v", pl, w)
				}
				raw, _ := e.Canonical()
				for _, secret := range []string{idAlice, idBob, idCarol, strings.ToLower(idAlice), nameAlice, nameBob, nameCarol, "张**", "欧***", idAlice[:6] + "********", idAlice[14:] + `"`} {
					if bytes.Contains(raw, []byte(secret)) {
						t.Errorf("event %d holds %q in clear: %s", i, secret, raw)
					}
				}
			}
		})
	}
}

// TestLedgerDown: if the access event cannot be recorded, no data leaves.
func TestLedgerDown(t *testing.T) {
	f := newFixture(t)
	f.ledger.fail = &events.Error{Code: events.CodeUnavailable, Message: "ledger down"}
	g, err := f.svc.TraceGate(context.Background(), gov, gateQ())
	wantErr(t, err, events.CodeUnavailable, "")
	if g.Rows != nil || g.AccessID != "" {
		t.Errorf("data returned without an access record: %+v", g)
	}
	pt, err := f.svc.TracePerson(context.Background(), gov, personQ())
	wantErr(t, err, events.CodeUnavailable, "")
	if pt.Rows != nil || pt.Name != "" {
		t.Errorf("data returned without an access record: %+v", pt)
	}
}

// TestVaultDown: a failure to read identities (other than erasure) fails
// the query; nothing is returned and nothing logged.
func TestVaultDown(t *testing.T) {
	f := newFixture(t)
	f.id.fail = &events.Error{Code: events.CodeUnavailable, Message: "key store down"}
	_, err := f.svc.TraceGate(context.Background(), gov, gateQ())
	wantErr(t, err, events.CodeUnavailable, "")
	_, err = f.svc.TracePerson(context.Background(), gov, personQ())
	wantErr(t, err, events.CodeUnavailable, "")
	if len(f.ledger.events) != 0 {
		t.Error("logged a query that returned nothing")
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		gate  func(*tracing.GateQuery)
		pers  func(*tracing.PersonQuery)
		field string
	}{
		{"no reason", func(q *tracing.GateQuery) { q.Reason = "" }, func(q *tracing.PersonQuery) { q.Reason = "  " }, "reason"},
		{"short reason", func(q *tracing.GateQuery) { q.Reason = "密接" }, func(q *tracing.PersonQuery) { q.Reason = "abc" }, "reason"},
		{"long reason", func(q *tracing.GateQuery) { q.Reason = strings.Repeat("查", 167) }, func(q *tracing.PersonQuery) { q.Reason = strings.Repeat("x", 501) }, "reason"},
		{"ID number in reason", func(q *tracing.GateQuery) { q.Reason = "trace " + idBob }, func(q *tracing.PersonQuery) { q.Reason = "联系 13800138000" }, "reason"},
		{"control character in reason", func(q *tracing.GateQuery) { q.Reason = "two\nlines" }, func(q *tracing.PersonQuery) { q.Reason = "bell\a here" }, "reason"},
		{"no purpose", func(q *tracing.GateQuery) { q.Purpose = "" }, func(q *tracing.PersonQuery) { q.Purpose = "" }, "purpose"},
		{"unknown purpose", func(q *tracing.GateQuery) { q.Purpose = "curiosity" }, func(q *tracing.PersonQuery) { q.Purpose = "Contact_Tracing" }, "purpose"},
		{"range too long", func(q *tracing.GateQuery) { q.To = q.From.Add(trace.MaxRange + time.Minute) }, func(q *tracing.PersonQuery) { q.From = q.To.Add(-32 * 24 * time.Hour) }, "to"},
		{"to before from", func(q *tracing.GateQuery) { q.To = q.From.Add(-time.Hour) }, func(q *tracing.PersonQuery) { q.To = q.From }, "to"},
		{"no from", func(q *tracing.GateQuery) { q.From = time.Time{} }, func(q *tracing.PersonQuery) { q.From = time.Time{} }, "from"},
		{"unknown gate", func(q *tracing.GateQuery) { q.Gates = []string{"g1", "g9"} }, nil, "gates"},
		{"no gates", func(q *tracing.GateQuery) { q.Gates = nil }, nil, "gates"},
		{"too many gates", func(q *tracing.GateQuery) { q.Gates = make([]string, trace.MaxGates+1) }, nil, "gates"},
		{"short ID number", nil, func(q *tracing.PersonQuery) { q.IDNumber = idAlice[:17] }, "id_number"},
		{"wrong check digit", nil, func(q *tracing.PersonQuery) { q.IDNumber = idAlice[:17] + "0" }, "id_number"},
		{"no ID number", nil, func(q *tracing.PersonQuery) { q.IDNumber = "" }, "id_number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.gate != nil {
				q := gateQ()
				tt.gate(&q)
				_, err := f.svc.TraceGate(context.Background(), gov, q)
				wantErr(t, err, events.CodeInvalid, tt.field)
				if tt.name == "unknown gate" && !strings.Contains(err.Error(), `"g9"`) {
					t.Errorf("does not name the gate: %v", err)
				}
			}
			if tt.pers != nil {
				q := personQ()
				tt.pers(&q)
				_, err := f.svc.TracePerson(context.Background(), gov, q)
				wantErr(t, err, events.CodeInvalid, tt.field)
			}
			if len(f.ledger.events) != 0 {
				t.Error("a refused query was logged")
			}
		})
	}
	// The limits themselves are accepted.
	f := newFixture(t)
	q := gateQ()
	q.Reason, q.To = strings.Repeat("查", 166), q.From.Add(trace.MaxRange)
	if _, err := f.svc.TraceGate(context.Background(), gov, q); err != nil {
		t.Errorf("166 Chinese characters over 31 days: %v", err)
	}
	pq := personQ()
	pq.Reason = "case 2026020712" // 10 digits: a case number is fine
	if _, err := f.svc.TracePerson(context.Background(), gov, pq); err != nil {
		t.Errorf("short case number: %v", err)
	}
}

func TestUnknownPerson(t *testing.T) {
	f := newFixture(t)
	q := personQ()
	q.IDNumber = idNoone
	pt, err := f.svc.TracePerson(context.Background(), gov, q)
	if err != nil || len(pt.Rows) != 0 || pt.Name != "" || len(f.ledger.events) != 1 {
		t.Fatalf("%+v %v", pt, err)
	}
}

func TestPurposes(t *testing.T) {
	for _, p := range tracing.Purposes() {
		if p.Code == "" || p.Description == "" {
			t.Errorf("purpose %+v", p)
		}
		if got, ok := tracing.LookupPurpose(p.Code); !ok || got.Code != p.Code {
			t.Errorf("lookup %s", p.Code)
		}
		for _, r := range p.Full {
			if !contains(auth.Roles(auth.ActTrace), r) {
				t.Errorf("purpose %s grants full identity to %s, which may not trace at all", p.Code, r)
			}
		}
	}
}

func contains(rs []auth.Role, r auth.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func TestCSV(t *testing.T) {
	for _, full := range []bool{false, true} {
		f := newFixture(t)
		ctx := context.Background()
		q := gateQ()
		q.FullIdentity = full
		g, err := f.svc.TraceGate(ctx, gov, q)
		if err != nil {
			t.Fatal(err)
		}
		pq := personQ()
		pq.FullIdentity = full
		pq.To = t0.Add(24 * time.Hour)
		pt, err := f.svc.TracePerson(ctx, govCity, pq)
		if err != nil {
			t.Fatal(err)
		}
		suffix := map[bool]string{false: "masked", true: "full"}[full]
		var b bytes.Buffer
		if err := tracing.WriteGateTraceCSV(&b, g); err != nil {
			t.Fatal(err)
		}
		golden(t, "gate_trace_"+suffix+".csv", b.Bytes())
		b.Reset()
		if err := tracing.WritePersonTraceCSV(&b, pt); err != nil {
			t.Fatal(err)
		}
		golden(t, "person_trace_"+suffix+".csv", b.Bytes())
	}
	// Cells a spreadsheet would run as formulas are defused.
	var b bytes.Buffer
	err := tracing.WriteGateTraceCSV(&b, tracing.GateTrace{Rows: []tracing.GateTraceRow{{Time: t0, Gate: "-g", Name: "=HYPERLINK(\"x\")", Decision: "allow"}}})
	if err != nil || !strings.Contains(b.String(), `'-g`) || !strings.Contains(b.String(), `"'=HYPERLINK(""x"")"`) {
		t.Errorf("%v %s", err, b.String())
	}
	// Write errors are reported.
	if err := tracing.WriteGateTraceCSV(failWriter{}, tracing.GateTrace{}); err == nil {
		t.Error("a failing writer went unnoticed")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n got:\n%s\nwant:\n%s", name, got, want)
	}
}
