package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/consent"
	"github.com/onebook/onebook/backend/wechat"
	"github.com/onebook/onebook/events"
)

// notifier sends WeChat subscribe messages to account holders. To reach a
// resident it needs their openid in clear, which the ledger never holds:
// it is kept in a KV bucket (outside the ledger, deletable) when they sign
// in, and forgotten when they erase their account. Beside it it keeps what
// each holder consented to receive (package consent): a message goes out
// only against an acceptance recorded from wx.requestSubscribeMessage, and
// each acceptance allows one.
type notifier struct {
	kv        jetstream.KeyValue
	consents  jetstream.KeyValue // consent key of an openid → consent.Grants
	wx        wechat.Client
	templates map[string]string // notice kind → template id
	log       *slog.Logger
	// donor maps an account to its donation-domain pseudonym, under which
	// the openid is kept too: the donation service knows donors only so.
	donor func(account string) string
}

func openNotifier(ctx context.Context, js jetstream.JetStream, replicas int, wx wechat.Client, templates map[string]string, log *slog.Logger, donor func(string) string) (*notifier, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "wechat_openids", History: 1, Storage: jetstream.FileStorage, Replicas: replicas})
	if err != nil {
		return nil, fmt.Errorf("openid bucket: %w", err)
	}
	consents, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "wechat_consents", History: 1, Storage: jetstream.FileStorage, Replicas: replicas})
	if err != nil {
		return nil, fmt.Errorf("consent bucket: %w", err)
	}
	return &notifier{kv: kv, consents: consents, wx: wx, templates: templates, log: log, donor: donor}, nil
}

// Remember records the openid of an account holder at sign-in.
func (n *notifier) Remember(ctx context.Context, subject, openID string) error {
	if _, err := n.kv.PutString(ctx, subject, openID); err != nil {
		return err
	}
	_, err := n.kv.PutString(ctx, n.donor(subject), openID)
	return err
}

// Forget removes it and the consents given under it (erasure), leaving no
// revision behind.
func (n *notifier) Forget(ctx context.Context, subject string) error {
	if e, err := n.kv.Get(ctx, subject); err == nil {
		if err := n.consents.Purge(ctx, consentKey(string(e.Value()))); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	for _, k := range []string{subject, n.donor(subject)} {
		if err := n.kv.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
	}
	return nil
}

// consentKey is where the consents of an openid are kept: WeChat counts
// acceptances per user and template, and an account holder is reached
// under two names (their account, their donor pseudonym) with one openid.
// A hash, so that the bucket's keys do not list openids.
func consentKey(openID string) string {
	sum := sha256.Sum256([]byte("consent\x00" + openID))
	return hex.EncodeToString(sum[:16])
}

// openID is the WeChat openid of an account holder, as remembered at
// sign-in.
func (n *notifier) openID(ctx context.Context, subject string) (string, error) {
	e, err := n.kv.Get(ctx, subject)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", events.Errorf(events.CodeNotFound, "no WeChat account known for %s (never signed in)", subject)
	}
	if err != nil {
		return "", &events.Error{Code: events.CodeUnavailable, Message: "cannot read WeChat accounts now", Err: err}
	}
	return string(e.Value()), nil
}

// grants reads the consents of an openid and the revision to update them
// at (0: none yet).
func (n *notifier) grants(ctx context.Context, openID string) (consent.Grants, uint64, error) {
	e, err := n.consents.Get(ctx, consentKey(openID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return consent.Grants{}, 0, nil
	}
	if err != nil {
		return nil, 0, &events.Error{Code: events.CodeUnavailable, Message: "cannot read consents now", Err: err}
	}
	var g consent.Grants
	if err := json.Unmarshal(e.Value(), &g); err != nil {
		return nil, 0, fmt.Errorf("consents of %s: %w", consentKey(openID), err)
	}
	return g, e.Revision(), nil
}

// updateGrants applies change to the consents of an openid, again if
// another replica wrote them in between; ok false leaves them as they are.
func (n *notifier) updateGrants(ctx context.Context, openID string, change func(consent.Grants) (consent.Grants, bool, error)) (consent.Grants, bool, error) {
	for range 10 {
		g, rev, err := n.grants(ctx, openID)
		if err != nil {
			return nil, false, err
		}
		next, ok, err := change(g)
		if err != nil || !ok {
			return g, ok, err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return nil, false, err
		}
		if rev == 0 {
			_, err = n.consents.Create(ctx, consentKey(openID), b)
		} else {
			_, err = n.consents.Update(ctx, consentKey(openID), b, rev)
		}
		if err == nil {
			return next, true, nil
		}
		// Another replica wrote first: read again and reapply.
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, false, &events.Error{Code: events.CodeUnavailable, Message: "cannot record consents now", Err: err}
		}
	}
	return nil, false, &events.Error{Code: events.CodeUnavailable, Message: "consents are changing too fast; retry"}
}

// Subscriptions lists, per kind of notice, what the caller consented to.
func (n *notifier) Subscriptions(ctx context.Context, p auth.Principal) ([]consent.View, error) {
	if p.Subject == "" {
		return nil, &events.Error{Code: events.CodeUnauthorized, Message: "sign in first"}
	}
	oid, err := n.openID(ctx, p.Subject)
	if errors.Is(err, events.ErrNotFound) {
		return consent.Views(nil, n.templates), nil
	}
	if err != nil {
		return nil, err
	}
	g, _, err := n.grants(ctx, oid)
	if err != nil {
		return nil, err
	}
	return consent.Views(g, n.templates), nil
}

// RecordConsent records the answers (template id → accept, reject, ban,
// filter) the caller's wx.requestSubscribeMessage gave.
func (n *notifier) RecordConsent(ctx context.Context, p auth.Principal, answers map[string]string) ([]consent.View, error) {
	if p.Subject == "" {
		return nil, &events.Error{Code: events.CodeUnauthorized, Message: "sign in first"}
	}
	oid, err := n.openID(ctx, p.Subject)
	if errors.Is(err, events.ErrNotFound) {
		return nil, &events.Error{Code: events.CodeConflict, Message: "sign in with WeChat before choosing notifications"}
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	g, _, err := n.updateGrants(ctx, oid, func(g consent.Grants) (consent.Grants, bool, error) {
		next, err := consent.Record(g, n.templates, answers, now)
		return next, err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return consent.Views(g, n.templates), nil
}

// Notify implements accounts.Service.Notify and passes.Service.Notify: best effort, failures logged.
func (n *notifier) Notify(ctx context.Context, note accounts.Notice) {
	if err := n.Send(ctx, note.Subject, note.Kind, note.Data); err != nil {
		n.log.Warn("notification not sent", "kind", note.Kind, "err", err)
	}
}

// Send sends a subscribe message of a kind to an account holder and says
// whether it went (alerts record each delivery).
func (n *notifier) Send(ctx context.Context, subject, kind string, data map[string]string) error {
	tpl := n.templates[kind]
	if tpl == "" {
		return fmt.Errorf("no subscribe-message template configured for %s", kind)
	}
	oid, err := n.openID(ctx, subject)
	if err != nil {
		return err
	}
	if _, ok, err := n.updateGrants(ctx, oid, func(g consent.Grants) (consent.Grants, bool, error) {
		next, ok := consent.Take(g, tpl)
		return next, ok, nil
	}); err != nil {
		return err
	} else if !ok {
		return &events.Error{Code: events.CodeForbidden, Message: fmt.Sprintf("%s has not consented to %s notices", subject, kind), Err: wechat.ErrNotSubscribed}
	}
	err = n.wx.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: oid, TemplateID: tpl, Page: "pages/index/index", Data: data})
	switch {
	case err == nil:
	case errors.Is(err, wechat.ErrNotSubscribed):
		// WeChat knows better: the acceptance we counted is not there.
		if _, _, rerr := n.updateGrants(ctx, oid, func(g consent.Grants) (consent.Grants, bool, error) {
			next, rerr := consent.Record(g, n.templates, map[string]string{tpl: consent.Reject}, time.Now())
			return next, rerr == nil, rerr
		}); rerr != nil {
			n.log.Warn("consent not withdrawn after WeChat refused a message", "err", rerr)
		}
	default:
		// Not delivered: the acceptance was not used.
		if _, _, gerr := n.updateGrants(ctx, oid, func(g consent.Grants) (consent.Grants, bool, error) {
			return consent.Give(g, tpl), true, nil
		}); gerr != nil {
			n.log.Warn("consent not given back after a failed message", "err", gerr)
		}
	}
	return err
}
