package app

import (
	"fmt"

	"github.com/nats-io/nats.go"
)

// NATSAuth is how onebook authenticates to an external NATS cluster, and
// the TLS it uses there. User and password may also ride in NATS_URL.
type NATSAuth struct {
	Creds string // a .creds file (user JWT and nkey seed), decentralised auth
	NKey  string // a file holding an nkey seed (SU…), nkey auth
	CA    string // PEM of the CA that signed the servers' certificates
	Cert  string // client certificate (PEM), with Key, for mutual TLS
	Key   string
}

// Options turns a into nats.Connect options; the backend and the ops tool
// connect alike.
func (a NATSAuth) Options() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case a.Creds != "" && a.NKey != "":
		return nil, fmt.Errorf("NATS: give a creds file or an nkey seed file, not both")
	case a.Creds != "":
		opts = append(opts, nats.UserCredentials(a.Creds))
	case a.NKey != "":
		o, err := nats.NkeyOptionFromSeed(a.NKey)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey seed %s: %w", a.NKey, err)
		}
		opts = append(opts, o)
	}
	if a.CA != "" {
		opts = append(opts, nats.RootCAs(a.CA))
	}
	switch {
	case (a.Cert == "") != (a.Key == ""):
		return nil, fmt.Errorf("NATS: a client certificate needs its key, and a key its certificate")
	case a.Cert != "":
		opts = append(opts, nats.ClientCert(a.Cert, a.Key))
	}
	return opts, nil
}
