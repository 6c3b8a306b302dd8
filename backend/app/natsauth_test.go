package app

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// TestNATSAuthNKey connects to a NATS server that admits one nkey user:
// with the seed file the backend would be given, and without it.
func TestNATSAuthNKey(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(t.TempDir(), "onebook.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	tests := []struct {
		name string
		auth NATSAuth
		ok   bool
	}{
		{"the nkey seed", NATSAuth{NKey: seedFile}, true},
		{"nothing", NATSAuth{}, false},
	}
	for _, tc := range tests {
		opts, err := tc.auth.Options()
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.Timeout(2*time.Second))...)
		if (err == nil) != tc.ok {
			t.Errorf("%s: connected %v (%v)", tc.name, err == nil, err)
		}
		if nc != nil {
			nc.Close()
		}
	}
	for _, bad := range []NATSAuth{{Creds: "a", NKey: "b"}, {Cert: "c"}, {NKey: filepath.Join(t.TempDir(), "missing")}} {
		if _, err := bad.Options(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
