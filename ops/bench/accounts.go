package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/backend/embedded"
)

// accountsServer is one nats-server on loopback with a JetStream-enabled
// account per partition (P11, P31, …, as the province cells of issue 17
// are named) and one user in each, so that every partition's streams are
// apart from the others' as a province cell's are: the same stream names
// in each account, no subject seen across accounts.
//
// It is started here rather than with embedded.StartNATS because the
// embedded server has one account; what it runs is the same server with
// the same storage and sync options.
type accountsServer struct {
	srv   *server.Server
	conns map[string]*nats.Conn // by account
}

// accountsConfig is the accounts block of a nats-server configuration:
// each account with JetStream and one user whose name and password are the
// account's name in lower case (loopback only, for a benchmark).
func accountsConfig(accounts []string) string {
	var b strings.Builder
	b.WriteString("accounts {\n")
	for _, a := range accounts {
		u := strings.ToLower(a)
		fmt.Fprintf(&b, "  %s { jetstream: enabled, users: [ { user: %q, password: %q } ] }\n", a, u, u)
	}
	b.WriteString("}\n")
	return b.String()
}

// startAccounts starts the server storing under dir with the sync policy
// of opts and connects once to each account.
func startAccounts(ctx context.Context, dir string, accounts []string, opts embedded.NATSOptions) (*accountsServer, error) {
	o := &server.Options{}
	if err := o.ProcessConfigString(accountsConfig(accounts)); err != nil {
		return nil, fmt.Errorf("accounts configuration: %w", err)
	}
	o.Host, o.Port, o.NoSigs = "127.0.0.1", server.RANDOM_PORT, true
	o.JetStream, o.StoreDir = true, dir
	o.SyncAlways, o.SyncInterval = opts.SyncAlways, opts.SyncInterval
	srv, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("nats server with accounts: %w", err)
	}
	go srv.Start()
	deadline := time.Now().Add(30 * time.Second)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		if ctx.Err() != nil || time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("nats server with accounts: not ready for connections")
		}
	}
	s := &accountsServer{srv: srv, conns: map[string]*nats.Conn{}}
	for _, a := range accounts {
		u := strings.ToLower(a)
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(u, u), nats.Name("onebook-bench-"+u), nats.Timeout(5*time.Second))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("connect to account %s: %w", a, err)
		}
		s.conns[a] = nc
	}
	return s, nil
}

// jetStream returns a JetStream context in account a.
func (s *accountsServer) jetStream(a string) (jetstream.JetStream, error) {
	nc, ok := s.conns[a]
	if !ok {
		return nil, fmt.Errorf("no account %s", a)
	}
	return jetstream.New(nc)
}

func (s *accountsServer) close() {
	for _, nc := range s.conns {
		nc.Close()
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
