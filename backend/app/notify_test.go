package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/consent"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/backend/wechat"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger/natstest"
)

// sendRecorder is a wechat.Client that records subscribe messages and,
// like WeChat, refuses those to users in refuse (errcode 43101).
type sendRecorder struct {
	wechat.Client
	mu     sync.Mutex
	sent   []wechat.SubscribeMessage
	refuse map[string]bool
	down   bool
}

func (r *sendRecorder) SendSubscribe(_ context.Context, m wechat.SubscribeMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return &events.Error{Code: events.CodeUnavailable, Message: "WeChat is down"}
	}
	if r.refuse[m.ToUser] {
		return &events.Error{Code: events.CodeForbidden, Message: "not accepted", Err: wechat.ErrNotSubscribed}
	}
	r.sent = append(r.sent, m)
	return nil
}

func (r *sendRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

// TestNotificationsNeedConsent: a notice goes out only against an
// acceptance recorded from wx.requestSubscribeMessage, one message per
// acceptance; a refusal is recorded and withdraws what was allowed; an
// account holder's donor pseudonym shares their consents; erasure forgets
// them with the openid.
func TestNotificationsNeedConsent(t *testing.T) {
	ctx := context.Background()
	srv, err := embedded.StartNATS(ctx, embedded.NATSOptions{Dir: t.TempDir(), Port: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	_, js := natstest.Dial(t, srv.ClientURL())
	wx := &sendRecorder{refuse: map[string]bool{}}
	templates := map[string]string{"visit_decided": "tpl-visit", "donation_hop": "tpl-hop", "alert_raised": ""}
	n, err := openNotifier(ctx, js, 1, wx, templates, slog.New(slog.DiscardHandler), func(a string) string { return "u-" + a })
	if err != nil {
		t.Fatal(err)
	}
	alice := auth.Principal{Subject: "r-alice", Role: auth.Resident}
	if err := n.Remember(ctx, alice.Subject, "oid-alice"); err != nil {
		t.Fatal(err)
	}
	left := func(kind string) (string, int) {
		t.Helper()
		vs, err := n.Subscriptions(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if v.Kind == kind {
				return v.Answer, v.Left
			}
		}
		t.Fatalf("no %s in %+v", kind, vs)
		return "", 0
	}
	send := func(subject, kind string) error { return n.Send(ctx, subject, kind, map[string]string{"thing1": "x"}) }

	if vs, _ := n.Subscriptions(ctx, alice); len(vs) != 2 {
		t.Fatalf("subscriptions %+v: want the two configured kinds", vs)
	}
	if err := send(alice.Subject, "visit_decided"); !errors.Is(err, wechat.ErrNotSubscribed) || wx.count() != 0 {
		t.Fatalf("never asked: %v, %d sent", err, wx.count())
	}
	if _, err := n.RecordConsent(ctx, alice, map[string]string{"tpl-visit": consent.Accept, "tpl-hop": consent.Reject}); err != nil {
		t.Fatal(err)
	}
	if a, l := left("visit_decided"); a != consent.Accept || l != 1 {
		t.Fatalf("after accept: %s %d", a, l)
	}
	if a, l := left("donation_hop"); a != consent.Reject || l != 0 {
		t.Fatalf("after reject: %s %d", a, l)
	}
	if err := send(alice.Subject, "visit_decided"); err != nil || wx.count() != 1 || wx.sent[0].ToUser != "oid-alice" || wx.sent[0].TemplateID != "tpl-visit" {
		t.Fatalf("accepted: %v, sent %+v", err, wx.sent)
	}
	if err := send(alice.Subject, "visit_decided"); !errors.Is(err, wechat.ErrNotSubscribed) || wx.count() != 1 {
		t.Fatalf("one acceptance, one message: %v, %d sent", err, wx.count())
	}
	if err := send("u-"+alice.Subject, "donation_hop"); !errors.Is(err, wechat.ErrNotSubscribed) || wx.count() != 1 {
		t.Fatalf("refused: %v, %d sent", err, wx.count())
	}

	// The donor pseudonym uses the same acceptances.
	if _, err := n.RecordConsent(ctx, alice, map[string]string{"tpl-hop": consent.Accept}); err != nil {
		t.Fatal(err)
	}
	if err := send("u-"+alice.Subject, "donation_hop"); err != nil || wx.count() != 2 {
		t.Fatalf("donor: %v, %d sent", err, wx.count())
	}
	if _, l := left("donation_hop"); l != 0 {
		t.Fatalf("the donor's message used the account's acceptance: %d left", l)
	}

	// A message WeChat could not take does not use the acceptance; one
	// WeChat refuses withdraws it.
	if _, err := n.RecordConsent(ctx, alice, map[string]string{"tpl-visit": consent.Accept}); err != nil {
		t.Fatal(err)
	}
	wx.down = true
	if err := send(alice.Subject, "visit_decided"); err == nil {
		t.Fatal("WeChat down: no error")
	}
	wx.down = false
	if _, l := left("visit_decided"); l != 1 {
		t.Fatalf("after a failed send: %d left, want 1", l)
	}
	wx.refuse["oid-alice"] = true
	if err := send(alice.Subject, "visit_decided"); !errors.Is(err, wechat.ErrNotSubscribed) {
		t.Fatal(err)
	}
	if a, l := left("visit_decided"); a != consent.Reject || l != 0 {
		t.Fatalf("after WeChat refused: %s %d", a, l)
	}
	wx.refuse["oid-alice"] = false

	// Bad answers name the field; an account never signed in through
	// WeChat cannot record.
	var e *events.Error
	if _, err := n.RecordConsent(ctx, alice, map[string]string{"tpl-other": consent.Accept}); !errors.As(err, &e) || e.Field != "answers" {
		t.Fatalf("unknown template: %v", err)
	}
	if _, err := n.RecordConsent(ctx, auth.Principal{Subject: "r-nobody", Role: auth.Resident}, map[string]string{"tpl-visit": consent.Accept}); !errors.As(err, &e) || e.Code != events.CodeConflict {
		t.Fatalf("no openid: %v", err)
	}

	// Erasure forgets the consents with the openid: signed in again, the
	// holder starts from nothing.
	if _, err := n.RecordConsent(ctx, alice, map[string]string{"tpl-visit": consent.Accept}); err != nil {
		t.Fatal(err)
	}
	if err := n.Forget(ctx, alice.Subject); err != nil {
		t.Fatal(err)
	}
	if err := n.Remember(ctx, alice.Subject, "oid-alice"); err != nil {
		t.Fatal(err)
	}
	if a, l := left("visit_decided"); a != "" || l != 0 {
		t.Fatalf("after erasure: %s %d", a, l)
	}
}
