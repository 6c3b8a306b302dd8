// Package outboxtest starts test NATS servers laid out as a deployment
// with a ledger per province runs: an account per province's cell and one
// for the nation, the provinces exporting outbox.Grants to the nation
// alone. It is what the tests of the outbox and of the national cell
// share; the backend does the same with nkey users (backend/app's
// withOutbox and embedded.AccountsConfig), here each account has a
// password user named after it.
package outboxtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/outbox"
)

// password is every test user's.
const password = "pw"

// Start starts a JetStream server with an account per province of
// provinces (outbox.Account) and outbox.NationAccount, with the grants of
// outbox.Grants between them.
func Start(t testing.TB, provinces []events.Region) *natstest.Server {
	t.Helper()
	conf := config(provinces)
	return natstest.StartWith(t, func(o *server.Options) {
		if err := o.ProcessConfigString(conf); err != nil {
			t.Fatalf("accounts: %v\n%s", err, conf)
		}
	})
}

// Connect connects to srv as the user of account.
func Connect(srv *natstest.Server, account string) (*nats.Conn, jetstream.JetStream) {
	return srv.Connect(nats.UserInfo(account, password))
}

// config is the accounts block of a nats-server configuration with an
// account per province and the nation's, each with a password user named
// after it, and the grants of outbox.Grants between them.
func config(provinces []events.Region) string {
	var b strings.Builder
	b.WriteString("accounts {\n")
	var imports []string
	for _, p := range provinces {
		acc := outbox.Account(p)
		fmt.Fprintf(&b, "  %s: { jetstream: enabled, users: [{user: %q, password: %q}], exports: [\n", acc, acc, password)
		for _, g := range outbox.Grants(p) {
			if g.Stream != "" {
				fmt.Fprintf(&b, "    {stream: %q, accounts: [%s]}\n", g.Stream, outbox.NationAccount)
				imports = append(imports, fmt.Sprintf("{stream: {account: %s, subject: %q}}", acc, g.Stream))
				continue
			}
			fmt.Fprintf(&b, "    {service: %q, accounts: [%s]}\n", g.Service, outbox.NationAccount)
			imp := fmt.Sprintf("{service: {account: %s, subject: %q}", acc, g.Service)
			if g.To != "" {
				imp += fmt.Sprintf(", to: %q", g.To)
			}
			imports = append(imports, imp+"}")
		}
		b.WriteString("  ]}\n")
	}
	fmt.Fprintf(&b, "  %s: { jetstream: enabled, users: [{user: %q, password: %q}], imports: [\n    %s\n  ]}\n}\n",
		outbox.NationAccount, outbox.NationAccount, password, strings.Join(imports, "\n    "))
	return b.String()
}

// OpenProvince opens province p's ledger and its OUTBOX in the province's
// account on srv, as its cell does, and returns the ledger.
func OpenProvince(ctx context.Context, t testing.TB, srv *natstest.Server, p events.Region) *ledger.Store {
	t.Helper()
	_, js := Connect(srv, outbox.Account(p))
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatalf("province %s's ledger: %v", p, err)
	}
	if _, err := outbox.Open(ctx, js, p, 1); err != nil {
		t.Fatalf("province %s's outbox: %v", p, err)
	}
	return st
}
