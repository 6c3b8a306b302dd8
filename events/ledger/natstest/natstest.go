// Package natstest starts embedded NATS JetStream servers for tests, on
// loopback, with file storage in a test's temporary directory.
package natstest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/onebook/onebook/events/ledger"
)

// Server is a running test server that can be killed and restarted on the
// same storage directory and port, to test what survives.
type Server struct {
	t    testing.TB
	dir  string
	port int
	opts func(*server.Options)
	S    *server.Server
}

// Start starts a JetStream server storing under a fresh temporary directory.
func Start(t testing.TB) *Server { return StartWith(t, nil) }

// StartWith is Start with the server's options changed by opts (nil: none),
// for a test of a server configured otherwise (lower JetStream limits).
func StartWith(t testing.TB, opts func(*server.Options)) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), port: -1, opts: opts}
	s.start()
	t.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) tryStart() error {
	o := &server.Options{
		Host:      "127.0.0.1",
		Port:      s.port,
		JetStream: true,
		StoreDir:  s.dir,
		NoLog:     true,
		NoSigs:    true,
	}
	if s.opts != nil {
		s.opts(o)
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("nats server not ready on port %d", s.port)
	}
	s.S = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
	return nil
}

// URL is the client URL.
func (s *Server) URL() string { return s.S.ClientURL() }

// Shutdown stops the server and waits until it is down.
func (s *Server) Shutdown() {
	if s.S != nil {
		s.S.Shutdown()
		s.S.WaitForShutdown()
		s.S = nil
	}
}

// Restart shuts the server down and starts it again on the same directory
// and port; clients with reconnect enabled carry on.
//
// The port comes from the kernel's ephemeral range, which outgoing
// connections of any process draw from too: one may hold it for a while
// after the shutdown, so a failed start is tried again, on the same port,
// as the clients expect.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	var err error
	for range 3 {
		if err = s.tryStart(); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	s.t.Fatalf("restart: %v", err)
}

// Connect returns a client connection (closed at test end) and its JetStream
// context, with opts (a user's credentials) added. The connection retries
// forever, so it survives Restart.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	s.t.Helper()
	return Dial(s.t, s.URL(), append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond), nats.RetryOnFailedConnect(true)}, opts...)...)
}

// Dial connects to the NATS server at url, one started otherwise (by
// embedded.StartNATS, or by a backend under test), and returns the
// connection, closed at test end, and its JetStream context.
func Dial(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Ledger is a test server with the ledger stream opened on it, and a
// context that ends after the test's time budget (or at its end).
type Ledger struct {
	Server *Server
	JS     jetstream.JetStream
	Ctx    context.Context
	Store  *ledger.Store
}

// OpenLedger starts a server and opens the ledger on it with the default
// configuration: the setup of the services' and projections' tests. The
// context ends after timeout.
func OpenLedger(t testing.TB, timeout time.Duration) Ledger {
	t.Helper()
	srv := Start(t)
	_, js := srv.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	st, err := ledger.Open(ctx, js, ledger.Config{})
	if err != nil {
		t.Fatalf("open the ledger: %v", err)
	}
	return Ledger{Server: srv, JS: js, Ctx: ctx, Store: st}
}
