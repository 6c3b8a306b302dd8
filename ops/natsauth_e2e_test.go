package main

import (
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/seal"
)

// TestBackendOnSecuredNATS runs the real backend, and the ops tool, against
// NATS servers secured as in production (README, "Running in production"):
// mutual TLS with an nkey user (NATS_CA, NATS_CERT, NATS_KEY, NATS_NKEY),
// and TLS with a decentralised JWT user (NATS_CREDS). Each starts, records
// events from both, becomes ready and verifies. Wrong credentials refuse to
// start, at once, with an error naming the setting.
func TestBackendOnSecuredNATS(t *testing.T) {
	pki := natstest.NewPKI(t)
	nkey, nkeyUsers := natstest.NKeyUser(t)
	strangerNKey, _ := natstest.NKeyUser(t)
	creds, jwtUsers := natstest.JWTUser(t)
	strangerCreds, _ := natstest.JWTUser(t)
	mtls := natstest.StartWith(t, natstest.Secure(pki.TLS(t, true), nkeyUsers)).URL()
	jwts := natstest.StartWith(t, natstest.Secure(pki.TLS(t, false), jwtUsers)).URL()
	clientTLS := []string{"--nats-ca", pki.CA, "--nats-cert", pki.ClientCert, "--nats-key", pki.ClientKey}
	flags := func(url string, fs ...string) []string { return append([]string{"--nats-url", url}, fs...) }

	for _, tc := range []struct {
		name string
		nats []string
	}{
		{"mutual TLS and an nkey", flags(mtls, append(clientTLS, "--nats-nkey", nkey)...)},
		{"TLS and a creds file", flags(jwts, "--nats-ca", pki.CA, "--nats-creds", creds)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			b.nats = tc.nats
			b.start(false)
			// An event the ops tool appends (the staff account), and one the
			// backend appends (its binding, then a gate).
			pm := staffClient(t, b, auth.PropertyManager, communityA)
			pm.json("POST", "/gates", map[string]string{"community": communityA, "name": "东门"}, 201, nil)
			st := b.settled()
			if st.Ledger.Size < 3 {
				t.Errorf("ledger of %d events; want the staff account, its binding and the gate", st.Ledger.Size)
			}
			if code, out := ops(t, append([]string{"verify"}, b.args()...)...); code != 0 {
				t.Fatalf("ops verify: %d\n%s", code, out)
			}
		})
	}

	// The ops tool is refused alike; it is given a verifier key, as the
	// refused backends made none.
	_, vkey, err := seal.GenerateKey("onebook.test/ledger")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		nats  []string
		names string // in the error
	}{
		{"no client certificate", flags(mtls, "--nats-ca", pki.CA, "--nats-nkey", nkey), "NATS_CERT (--nats-cert)"},
		{"another CA", flags(mtls, "--nats-ca", pki.OtherCA, "--nats-cert", pki.ClientCert, "--nats-key", pki.ClientKey, "--nats-nkey", nkey), "NATS_CA (--nats-ca) " + pki.OtherCA},
		{"an unknown nkey", flags(mtls, append(clientTLS, "--nats-nkey", strangerNKey)...), "NATS_NKEY (--nats-nkey) " + strangerNKey},
		{"another operator's creds", flags(jwts, "--nats-ca", pki.CA, "--nats-creds", strangerCreds), "NATS_CREDS (--nats-creds) " + strangerCreds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			b.nats = tc.nats
			start := time.Now()
			err := b.tryStart()
			t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
			switch {
			case err == nil:
				t.Fatalf("started; want a refusal naming %s", tc.names)
			case !strings.Contains(err.Error(), tc.names):
				t.Fatalf("refused with %q, which does not name %s", err, tc.names)
			}
			if code, out := ops(t, append([]string{"verify", "--key", vkey}, b.args()...)...); code == 0 || !strings.Contains(out, tc.names) {
				t.Errorf("ops verify: %d, output not naming %s:\n%s", code, tc.names, out)
			}
		})
	}
}
