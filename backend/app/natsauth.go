package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
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
// connect alike. Every file is read and parsed here, so that a wrong one is
// named at once rather than as a failed connection.
func (a NATSAuth) Options() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case a.Creds != "" && a.NKey != "":
		return nil, fmt.Errorf("NATS_CREDS and NATS_NKEY: give a creds file or an nkey seed file, not both")
	case a.Creds != "":
		if err := checkCreds(a.Creds); err != nil {
			return nil, fmt.Errorf("NATS_CREDS (--nats-creds) %s: %w", a.Creds, err)
		}
		opts = append(opts, nats.UserCredentials(a.Creds))
	case a.NKey != "":
		o, err := nats.NkeyOptionFromSeed(a.NKey)
		if err != nil {
			return nil, fmt.Errorf("NATS_NKEY (--nats-nkey) %s: %w", a.NKey, err)
		}
		opts = append(opts, o)
	}
	if a.CA != "" {
		b, err := os.ReadFile(a.CA)
		if err == nil && !x509.NewCertPool().AppendCertsFromPEM(b) {
			err = errors.New("no PEM certificate in it")
		}
		if err != nil {
			return nil, fmt.Errorf("NATS_CA (--nats-ca) %s: %w", a.CA, err)
		}
		opts = append(opts, nats.RootCAs(a.CA))
	}
	switch {
	case (a.Cert == "") != (a.Key == ""):
		return nil, fmt.Errorf("NATS_CERT and NATS_KEY: a client certificate needs its key, and a key its certificate")
	case a.Cert != "":
		if _, err := tls.LoadX509KeyPair(a.Cert, a.Key); err != nil {
			return nil, fmt.Errorf("NATS_CERT %s and NATS_KEY %s: %w", a.Cert, a.Key, err)
		}
		opts = append(opts, nats.ClientCert(a.Cert, a.Key))
	}
	return opts, nil
}

// checkCreds reads a .creds file as nats.UserCredentials will, which is
// only when it connects.
func checkCreds(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := nkeys.ParseDecoratedJWT(b); err != nil {
		return fmt.Errorf("no user JWT in it: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return fmt.Errorf("no nkey seed in it: %w", err)
	}
	kp.Wipe()
	return nil
}

// Connect connects to the NATS servers at url with a's credentials and
// TLS, and opts. It does not retry: a server that refuses onebook is an
// error at once, worded with the setting to look at (Refusal).
func (a NATSAuth) Connect(url string, opts ...nats.Option) (*nats.Conn, error) {
	auth, err := a.Options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, append(auth, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, a.Refusal(err))
	}
	return nc, nil
}

// Refusal says which setting a failed connection points at: the
// credentials for an authorization error, NATS_CA for a server certificate
// that does not verify, NATS_CERT and NATS_KEY for another TLS failure
// (a server that wants mutual TLS breaks off the handshake without an
// acceptable client certificate), and NATS_URL otherwise.
func (a NATSAuth) Refusal(err error) string {
	var (
		verify   *tls.CertificateVerificationError
		hostname x509.HostnameError
		op       *net.OpError
	)
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAccountAuthExpired):
		switch {
		case a.Creds != "":
			return fmt.Sprintf("the server refused the user of NATS_CREDS (--nats-creds) %s: is it signed by an account the server trusts, and current?", a.Creds)
		case a.NKey != "":
			return fmt.Sprintf("the server refused the nkey user of NATS_NKEY (--nats-nkey) %s: is its public key among the server's users?", a.NKey)
		}
		return "the server wants credentials: set NATS_CREDS (--nats-creds) or NATS_NKEY (--nats-nkey), or a user and password in NATS_URL"
	case errors.As(err, &hostname):
		return fmt.Sprintf("the server's certificate is not for %s: NATS_URL (--nats-url) must name a host the certificate names", hostname.Host)
	case errors.As(err, &verify) && a.CA == "":
		return "the server's certificate is not signed by a CA this machine trusts: set NATS_CA (--nats-ca) to the PEM of the CA that signed it"
	case errors.As(err, &verify):
		return fmt.Sprintf("the server's certificate is not signed by the CA in NATS_CA (--nats-ca) %s", a.CA)
	case errors.As(err, &op) && op.Op == "remote error", errors.Is(err, nats.ErrTLS):
		// The server checks a client certificate after the client has
		// finished its handshake: the client reads the server's alert, or
		// (nats.go's ErrTLS) only that the server closed the connection.
		if a.Cert == "" {
			return "the server broke off the TLS handshake, as for mutual TLS without a client certificate: set NATS_CERT (--nats-cert) and NATS_KEY (--nats-key)"
		}
		return fmt.Sprintf("the server broke off the TLS handshake: is NATS_CERT (--nats-cert) %s signed by a CA the server trusts?", a.Cert)
	case errors.Is(err, nats.ErrSecureConnWanted):
		return "NATS_CA, NATS_CERT or NATS_KEY ask for TLS, and the server does not offer it: check NATS_URL (--nats-url)"
	case errors.Is(err, nats.ErrSecureConnRequired):
		return "the server requires TLS: set NATS_CA (--nats-ca)"
	}
	return "is NATS_URL (--nats-url) right, and the server up?"
}
