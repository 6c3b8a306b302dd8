package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/wechat"
)

// notifier sends WeChat subscribe messages to account holders. To reach a
// resident it needs their openid in clear, which the ledger never holds:
// it is kept in a KV bucket (outside the ledger, deletable) when they sign
// in, and forgotten when they erase their account.
type notifier struct {
	kv        jetstream.KeyValue
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
	return &notifier{kv: kv, wx: wx, templates: templates, log: log, donor: donor}, nil
}

// Remember records the openid of an account holder at sign-in.
func (n *notifier) Remember(ctx context.Context, subject, openID string) error {
	if _, err := n.kv.PutString(ctx, subject, openID); err != nil {
		return err
	}
	_, err := n.kv.PutString(ctx, n.donor(subject), openID)
	return err
}

// Forget removes it (erasure), leaving no revision behind.
func (n *notifier) Forget(ctx context.Context, subject string) error {
	for _, k := range []string{subject, n.donor(subject)} {
		if err := n.kv.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
	}
	return nil
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
	e, err := n.kv.Get(ctx, subject)
	if err != nil {
		return fmt.Errorf("no WeChat account known for %s (never signed in)", subject)
	}
	return n.wx.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: string(e.Value()), TemplateID: tpl, Page: "pages/index/index", Data: data})
}
