// Package casestest builds a test world for the staff-facing services:
// embedded JetStream (events/ledger/natstest), the ledger and its seal
// (a running sealer, so proofs work), the real personal-data vault, and the
// accounts (backend/passes), case (backend/cases), alert (backend/alerts)
// and donation (backend/donations) services following it, on a clock the
// test moves.
package casestest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/backend/personal"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/orgs"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/events/seal"
)

// World is a running test world.
type World struct {
	T         testing.TB
	Ctx       context.Context
	NATS      *natstest.Server // Restart it to test what survives
	Store     *ledger.Store
	Reg       *events.Registry
	Accounts  *accounts.Service
	Cases     *cases.Service
	Engine    *alerts.Engine
	Alerts    *alerts.Service
	Donations *donations.Service
	Prover    *seal.Prover
	JS        jetstream.JetStream
	Tiles     *seal.Tiles
	// SealSigner and VerifierKey are the checkpoint key pair.
	SealSigner  note.Signer
	VerifierKey string

	mu       sync.Mutex
	now      time.Time
	notified []string // subjects notified of alerts
}

// New starts a world whose clock reads now. The alert service is not
// running: tests call Step (deterministic) or start Run themselves.
func New(t testing.TB, now time.Time) *World {
	t.Helper()
	l := natstest.OpenLedger(t, 2*time.Minute)
	srv, js, ctx, st := l.Server, l.JS, l.Ctx, l.Store
	key := func(s string) []byte { k := sha256.Sum256([]byte(s)); return k[:] }
	vault, err := personal.OpenVault(ctx, js, personal.VaultConfig{MasterKey: key("master"), IndexKey: key("index")})
	if err != nil {
		t.Fatal(err)
	}
	w := &World{T: t, Ctx: ctx, NATS: srv, Store: st, Reg: schemas.Registry().WithKeyring(vault), now: now}
	clock := func() time.Time { return w.Now() }
	state, cstate, engine, dstate := accounts.NewState(), cases.NewState(), alerts.NewEngine(), donations.NewState()
	for _, a := range []events.Applier{state, cstate, engine, dstate} {
		go ledger.Follow(ctx, js, st.Stream(), w.Reg, a)
	}
	w.Accounts = &accounts.Service{Store: st, Reg: w.Reg, State: state, Vault: accounts.PersonalVault(vault), Now: clock}
	w.Engine = engine
	w.Alerts = &alerts.Service{Store: st, Reg: w.Reg, Engine: engine, Now: clock,
		Responsible: func(r events.Region) []alerts.Recipient {
			var out []alerts.Recipient
			for _, s := range state.StaffIn(auth.CDCReviewer, r) {
				out = append(out, alerts.Recipient{Subject: s.ID, Scope: s.Scope})
			}
			return out
		},
		Notify: func(_ context.Context, subject, kind string, _ map[string]string) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.notified = append(w.notified, subject)
			return nil
		}}
	w.Alerts.Init()
	w.Cases = &cases.Service{Store: st, Reg: w.Reg, State: cstate, Vault: accounts.PersonalVault(vault), Now: clock,
		Org: func(id string) (cases.Hospital, bool) {
			o, ok := w.Accounts.Org(id)
			return cases.Hospital{ID: o.ID, Kind: o.Kind, Region: o.Region, Approved: o.Approved}, ok
		}, Filed: func(string) { w.Alerts.Wake() }}
	w.JS = js
	w.Prover, w.Tiles, w.SealSigner, w.VerifierKey = startSealer(t, ctx, js)
	w.Donations = &donations.Service{Store: st, Reg: w.Reg, State: dstate, Prover: w.Prover, Now: clock,
		Pseudonym: func(a string) string { return vault.Pseudonym(personal.DomainDonations, a) },
		Org: func(id string) (donations.Org, bool) {
			o, ok := w.Accounts.Org(id)
			return donations.Org{ID: o.ID, Kind: o.Kind, Name: o.Name, Region: o.Region, Approved: o.Approved}, ok
		}}
	if err := w.Alerts.SeedRules(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

// Now is the world's clock.
func (w *World) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

// Advance moves the clock.
func (w *World) Advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

// Notified returns the subjects notified of alerts so far.
func (w *World) Notified() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.notified...)
}

// System is onebook itself, for set-up.
var System = auth.Principal{Subject: "ops", Role: auth.System, Scope: events.National}

// Hospital registers and approves a hospital in region.
func (w *World) Hospital(name string, region events.Region) accounts.Org {
	w.T.Helper()
	o, err := w.Accounts.RegisterOrg(w.Ctx, System, accounts.OrgInput{Kind: orgs.Hospital, Name: name, Region: region,
		Licence: Licence(name), DocsHash: hex.EncodeToString(bytes.Repeat([]byte{7}, 32)), Approve: true})
	if err != nil {
		w.T.Fatal(err)
	}
	return o
}

// Staff creates and binds a staff account.
func (w *World) Staff(role auth.Role, scope events.Region, org string) auth.Principal {
	w.T.Helper()
	ns, err := w.Accounts.AddStaff(w.Ctx, System, accounts.StaffInput{Role: string(role), Scope: scope, Label: "test", Org: org})
	if err != nil {
		w.T.Fatal(err)
	}
	p, err := w.Accounts.BindStaff(w.Ctx, "wx-"+ns.ID, ns.InviteCode)
	if err != nil {
		w.T.Fatal(err)
	}
	return p
}

// Licence returns a valid unified social credit code derived from seed.
func Licence(seed string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	sum := sha256.Sum256([]byte(seed))
	b := []byte("91110000")
	for i := 0; len(b) < 17; i++ {
		b = append(b, alphabet[int(sum[i])%10])
	}
	for c := 0; c < len(alphabet); c++ {
		if s := string(b) + string(alphabet[c]); orgs.ValidLicence(s) {
			return s
		}
	}
	panic("no check character")
}

// IDNumber returns a valid 18-character ID number for person n, born in
// region (6 digits).
func IDNumber(region string, n int) string {
	base := fmt.Sprintf("%s19800101%03d", region, n%1000)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(base[i]-'0') * weights[i]
	}
	return base + string("10X98765432"[sum%11])
}

// Card returns a valid card for a disease and symptoms, reported today.
func (w *World) Card(disease string, residence events.Region, symptoms ...string) caseevents.Card {
	day := events.Day(w.Now())
	return caseevents.Card{Disease: disease, Diagnosis: caseevents.Suspected, Onset: day, Diagnosed: day, Reported: day,
		Symptoms: symptoms, Residence: residence, Occupation: "worker", Severity: "mild"}
}

// File files a card as reporter for patient n.
func (w *World) File(reporter auth.Principal, n int, card caseevents.Card) cases.Card {
	w.T.Helper()
	c, err := w.Cases.File(w.Ctx, reporter, cases.FileInput{
		Patient: cases.Patient{Name: Name(n), IDNumber: IDNumber(string(card.Residence[:6]), n), Phone: "13900000000"},
		Card:    card})
	if err != nil {
		w.T.Fatal(err)
	}
	return c
}

// Step raises pending signals and notifies, once, and waits until the
// engine has seen the result.
func (w *World) Step() {
	w.T.Helper()
	if err := w.Alerts.StepOnce(w.Ctx); err != nil {
		w.T.Fatal(err)
	}
}

// Name returns a Chinese name for patient n.
func Name(n int) string {
	family := []rune("王李张刘陈杨黄赵吴周")
	given := []rune("伟芳娜敏静丽强磊军洋")
	return string([]rune{family[n%10], given[(n/10)%10], given[(n/100+3)%10]})
}

// startSealer runs a sealer over the ledger for the test's lifetime (real
// time: checkpoints every 50 ms while events arrive) and returns a prover.
func startSealer(t testing.TB, ctx context.Context, js jetstream.JetStream) (*seal.Prover, *seal.Tiles, note.Signer, string) {
	t.Helper()
	skey, vkey, err := seal.GenerateKey("casestest/ledger")
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := seal.LoadSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	tiles, err := seal.OpenTiles(ctx, js, seal.TilesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cps, err := seal.OpenCheckpoints(ctx, js, seal.CheckpointsConfig{VerifierKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.NewSealer(js, seal.SealerConfig{Signer: signer, Tiles: tiles, Checkpoints: cps, Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go s.Run(ctx)
	return seal.NewProver(cps, tiles), tiles, signer, vkey
}

// WaitSealed waits until the latest checkpoint covers the whole ledger.
func (w *World) WaitSealed() {
	w.T.Helper()
	size, err := w.Store.Size(w.Ctx)
	if err != nil {
		w.T.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, n, _, err := w.Prover.Latest(w.Ctx); err == nil && n >= size {
			return
		}
		if time.Now().After(deadline) {
			w.T.Fatalf("the ledger of %d events was not sealed in time", size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Org registers and approves an organisation of a kind in region.
func (w *World) Org(kind, name string, region events.Region) accounts.Org {
	w.T.Helper()
	o, err := w.Accounts.RegisterOrg(w.Ctx, System, accounts.OrgInput{Kind: kind, Name: name, Region: region,
		Licence: Licence(name), DocsHash: hex.EncodeToString(bytes.Repeat([]byte{9}, 32)), Approve: true})
	if err != nil {
		w.T.Fatal(err)
	}
	return o
}

// Events returns every event of the ledger, in order: to fold through the
// views and compare them with the services' states.
func (w *World) Events() []events.Event {
	w.T.Helper()
	size, err := w.Store.Size(w.Ctx)
	if err != nil {
		w.T.Fatal(err)
	}
	var evs []events.Event
	err = w.Store.Scan(w.Ctx, 1, size, func(r events.Recorded) error {
		e, err := events.Parse(r.Raw)
		evs = append(evs, e)
		return err
	})
	if err != nil {
		w.T.Fatal(err)
	}
	return evs
}
