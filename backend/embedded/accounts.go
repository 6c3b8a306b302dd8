package embedded

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// Account is a NATS account with JetStream enabled, as a deployment with a
// ledger per province has one per cell (partition.Account: P31, NATION):
// each cell's streams and buckets live in its own account, where no other
// cell's user can see them, and only what an account exports crosses.
type Account struct {
	Name    string
	Users   []string // public nkeys (U…) of the account's users
	Exports []Export
	Imports []Import
}

// Export is a subject an account lets other accounts use: a service
// (requests, e.g. "$JS.API.CONSUMER.CREATE.OUTBOX.>") or a stream
// (messages, e.g. a consumer's deliver subject). Accounts limits it to
// those accounts; empty: any.
type Export struct {
	Service, Stream string
	Accounts        []string
}

// Import brings another account's export into this one: Service or Stream
// is the subject as the exporting Account names it; To, for a service, is
// the subject it answers on here (e.g. "$JS.P31.API.CONSUMER.CREATE.OUTBOX.>").
type Import struct {
	Account         string
	Service, Stream string
	To              string
}

// AccountsConfig writes accts as the accounts block of a nats-server
// configuration file. It is what the embedded servers run with, and what
// an operator of an external NATS cluster can start from (README, "A
// ledger per province").
func AccountsConfig(accts []Account) string {
	var b strings.Builder
	b.WriteString("accounts {\n")
	for _, a := range accts {
		fmt.Fprintf(&b, "  %s: {\n    jetstream: enabled\n    users: [", strconv.Quote(a.Name))
		for i, u := range a.Users {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{nkey: %s}", strconv.Quote(u))
		}
		b.WriteString("]\n")
		if len(a.Exports) > 0 {
			b.WriteString("    exports: [\n")
			for _, e := range a.Exports {
				kind, subject := kindOf(e.Service, e.Stream)
				fmt.Fprintf(&b, "      {%s: %s", kind, strconv.Quote(subject))
				if len(e.Accounts) > 0 {
					fmt.Fprintf(&b, ", accounts: [%s]", quoteAll(e.Accounts))
				}
				b.WriteString("}\n")
			}
			b.WriteString("    ]\n")
		}
		if len(a.Imports) > 0 {
			b.WriteString("    imports: [\n")
			for _, im := range a.Imports {
				kind, subject := kindOf(im.Service, im.Stream)
				fmt.Fprintf(&b, "      {%s: {account: %s, subject: %s}", kind, strconv.Quote(im.Account), strconv.Quote(subject))
				if im.To != "" {
					fmt.Fprintf(&b, ", to: %s", strconv.Quote(im.To))
				}
				b.WriteString("}\n")
			}
			b.WriteString("    ]\n")
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// kindOf says how the configuration names an export's or import's
// subject: as a stream when Stream is set, else as a service.
func kindOf(service, stream string) (kind, subject string) {
	if stream != "" {
		return "stream", stream
	}
	return "service", service
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// AccountOptions returns server options holding only accts (accounts,
// their nkey users, exports and imports), parsed from AccountsConfig as a
// configuration file would be; the caller adds the rest. Each server start
// needs options of its own: a server binds the accounts it is given.
func AccountOptions(accts []Account) (*server.Options, error) {
	opts := &server.Options{}
	if err := opts.ProcessConfigString(AccountsConfig(accts)); err != nil {
		return nil, fmt.Errorf("NATS accounts: %w", err)
	}
	return opts, nil
}
