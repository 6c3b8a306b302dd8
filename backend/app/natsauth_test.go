package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/onebook/onebook/events/ledger/natstest"
)

// TestNATSAuthAgainstServers connects with each combination of settings
// to real servers secured as in production: mutual TLS with nkey users, TLS
// with decentralised (JWT) users, and no TLS. A connection the server
// refuses fails at once, and its error names the setting to look at.
func TestNATSAuthAgainstServers(t *testing.T) {
	pki := natstest.NewPKI(t)
	nkey, nkeyUsers := natstest.NKeyUser(t)
	strangerNKey, _ := natstest.NKeyUser(t)
	creds, jwtUsers := natstest.JWTUser(t)
	strangerCreds, _ := natstest.JWTUser(t) // a user of another operator
	mtls := natstest.StartWith(t, natstest.Secure(pki.TLS(t, true), nkeyUsers)).URL()
	jwts := natstest.StartWith(t, natstest.Secure(pki.TLS(t, false), jwtUsers)).URL()
	plain := natstest.Start(t).URL()

	client := NATSAuth{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}
	with := func(a NATSAuth, f func(*NATSAuth)) NATSAuth { f(&a); return a }
	tests := []struct {
		name  string
		url   string
		auth  NATSAuth
		names string // in the error; "" connects
	}{
		{"mutual TLS and the nkey", mtls, with(client, func(a *NATSAuth) { a.NKey = nkey }), ""},
		{"no client certificate", mtls, NATSAuth{NKey: nkey, CA: pki.CA}, "NATS_CERT"},
		{"a client certificate of another CA", mtls, with(client, func(a *NATSAuth) { a.NKey, a.Cert, a.Key = nkey, pki.OtherClientCert, pki.OtherClientKey }), "NATS_CERT"},
		{"another CA", mtls, with(client, func(a *NATSAuth) { a.NKey, a.CA = nkey, pki.OtherCA }), "NATS_CA (--nats-ca) " + pki.OtherCA},
		{"no CA", mtls, with(client, func(a *NATSAuth) { a.NKey, a.CA = nkey, "" }), "set NATS_CA"},
		{"an unknown nkey", mtls, with(client, func(a *NATSAuth) { a.NKey = strangerNKey }), "NATS_NKEY (--nats-nkey) " + strangerNKey},
		{"no credentials", mtls, client, "set NATS_CREDS (--nats-creds) or NATS_NKEY"},
		{"TLS and the creds", jwts, NATSAuth{Creds: creds, CA: pki.CA}, ""},
		{"another operator's creds", jwts, NATSAuth{Creds: strangerCreds, CA: pki.CA}, "NATS_CREDS (--nats-creds) " + strangerCreds},
		{"an nkey where creds are wanted", jwts, NATSAuth{NKey: nkey, CA: pki.CA}, "NATS_NKEY"},
		{"TLS asked of a server without", plain, NATSAuth{CA: pki.CA}, "check NATS_URL"},
		{"nothing, no TLS", plain, NATSAuth{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := tc.auth.Connect(tc.url, nats.Timeout(5*time.Second))
			if nc != nil {
				defer nc.Close()
			}
			switch {
			case tc.names == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.names == "":
				if _, err := nc.RTT(); err != nil {
					t.Fatalf("connected, but the server does not answer: %v", err)
				}
			case err == nil:
				t.Fatalf("connected; want a refusal naming %s", tc.names)
			case !strings.Contains(err.Error(), tc.names):
				t.Fatalf("refused with %q, which does not name %s", err, tc.names)
			}
		})
	}
}

// TestNATSAuthFiles checks that each file setting is read before any
// connection is tried, and a wrong one is named.
func TestNATSAuthFiles(t *testing.T) {
	pki := natstest.NewPKI(t)
	nkey, _ := natstest.NKeyUser(t)
	creds, _ := natstest.JWTUser(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		auth  NATSAuth
		names string // in the error; "" valid
	}{
		{"every file right", NATSAuth{Creds: creds, CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}, ""},
		{"an nkey seed", NATSAuth{NKey: nkey}, ""},
		{"creds and an nkey", NATSAuth{Creds: creds, NKey: nkey}, "NATS_CREDS and NATS_NKEY"},
		{"a missing creds file", NATSAuth{Creds: missing}, "NATS_CREDS (--nats-creds) " + missing},
		{"creds without a JWT", NATSAuth{Creds: garbage}, "NATS_CREDS (--nats-creds) " + garbage},
		{"an nkey file holding a creds file's JWT", NATSAuth{NKey: garbage}, "NATS_NKEY (--nats-nkey) " + garbage},
		{"a missing nkey file", NATSAuth{NKey: missing}, "NATS_NKEY (--nats-nkey) " + missing},
		{"a missing CA", NATSAuth{CA: missing}, "NATS_CA (--nats-ca) " + missing},
		{"a CA file without a certificate", NATSAuth{CA: pki.ClientKey}, "NATS_CA (--nats-ca) " + pki.ClientKey},
		{"a certificate without its key", NATSAuth{Cert: pki.ClientCert}, "NATS_CERT and NATS_KEY"},
		{"a key without its certificate", NATSAuth{Key: pki.ClientKey}, "NATS_CERT and NATS_KEY"},
		{"a key of another certificate", NATSAuth{Cert: pki.ClientCert, Key: pki.OtherClientKey}, "NATS_CERT " + pki.ClientCert},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.auth.Options()
			switch {
			case tc.names == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.names != "" && err == nil:
				t.Fatalf("accepted; want an error naming %s", tc.names)
			case err != nil && !strings.Contains(err.Error(), tc.names):
				t.Fatalf("%q does not name %s", err, tc.names)
			}
		})
	}
}
