package natstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// The servers of production are secured: TLS, mutual TLS, nkey and JWT
// users. What follows makes each for a test, with the files a client is
// given (NATS_CA, NATS_CERT and NATS_KEY, NATS_NKEY, NATS_CREDS), so that
// the client's settings are tested against a real server. StartWith takes
// the options; Secure combines several.

// PKI is a test certificate authority: a server certificate for 127.0.0.1
// and a client certificate signed by it, and for the tests of a wrong one
// an unrelated CA with a client certificate of its own. Every field is the
// path of a PEM file.
type PKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	OtherCA, OtherClientCert, OtherClientKey         string
}

// NewPKI writes a fresh PKI (ECDSA P-256) into a temporary directory.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	p := &PKI{}
	ca := newCA(t, dir, "ca", &p.CA)
	ca.issue(t, dir, "nats-server", true, &p.ServerCert, &p.ServerKey)
	ca.issue(t, dir, "onebook", false, &p.ClientCert, &p.ClientKey)
	other := newCA(t, dir, "other-ca", &p.OtherCA)
	other.issue(t, dir, "stranger", false, &p.OtherClientCert, &p.OtherClientKey)
	return p
}

// TLS returns server options that require TLS with p's server certificate;
// with verify, every client must also present a certificate signed by p's
// CA (mutual TLS).
func (p *PKI) TLS(t testing.TB, verify bool) func(*server.Options) {
	t.Helper()
	cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.ServerCert, KeyFile: p.ServerKey, CaFile: p.CA, Verify: verify})
	if err != nil {
		t.Fatalf("server TLS: %v", err)
	}
	return func(o *server.Options) {
		o.TLS, o.TLSVerify, o.TLSConfig, o.TLSTimeout = true, verify, cfg, 2
	}
}

// certAuthority signs certificates.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	n    int64 // the last serial number given
}

func newCA(t testing.TB, dir, name string, certFile *string) *certAuthority {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "onebook test " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	*certFile = writePEM(t, dir, name+".pem", "CERTIFICATE", der)
	return &certAuthority{cert: cert, key: key, n: 1}
}

// issue writes a certificate for a server at 127.0.0.1 (server) or for a
// client, and its key.
func (ca *certAuthority) issue(t testing.TB, dir, name string, server bool, certFile, keyFile *string) {
	t.Helper()
	key := newKey(t)
	ca.n++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.n),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("certificate %s: %v", name, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	*certFile = writePEM(t, dir, name+".pem", "CERTIFICATE", der)
	*keyFile = writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t testing.TB, dir, name, kind string, der []byte) string {
	t.Helper()
	return writeFile(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// NKeyUser makes a user known by its nkey: the file holding its seed
// (NATS_NKEY), and server options admitting that user alone.
func NKeyUser(t testing.TB) (seedFile string, opts func(*server.Options)) {
	t.Helper()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	seedFile = writeFile(t, t.TempDir(), "user.nk", seed)
	return seedFile, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} }
}

// JWTUser makes the chain of decentralised authentication: an operator,
// an account it signs with JetStream enabled, and a user the account
// signs. It returns the user's .creds file (NATS_CREDS) and server options
// that trust the operator and know the accounts from a memory resolver
// (JetStream needs a system account besides).
func JWTUser(t testing.TB) (credsFile string, opts func(*server.Options)) {
	t.Helper()
	operator, opPub := newNKey(t, nkeys.CreateOperator)
	account, accPub := newNKey(t, nkeys.CreateAccount)
	user, userPub := newNKey(t, nkeys.CreateUser)
	_, sysPub := newNKey(t, nkeys.CreateAccount)

	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "onebook-test"
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	oc, err = jwt.DecodeOperatorClaims(opJWT)
	if err != nil {
		t.Fatal(err)
	}
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = "SYS"
	sysJWT, err := sc.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "onebook"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := ac.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	uc := jwt.NewUserClaims(userPub)
	uc.Name = "onebook"
	userJWT, err := uc.Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	credsFile = writeFile(t, t.TempDir(), "user.creds", creds)
	resolver := &server.MemAccResolver{}
	for pub, claims := range map[string]string{accPub: accJWT, sysPub: sysJWT} {
		if err := resolver.Store(pub, claims); err != nil {
			t.Fatal(err)
		}
	}
	return credsFile, func(o *server.Options) {
		o.TrustedOperators = []*jwt.OperatorClaims{oc}
		o.SystemAccount = sysPub
		o.AccountResolver = resolver
	}
}

func newNKey(t testing.TB, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

// Secure combines server options: Secure(pki.TLS(t, true), nkey) is a
// server with mutual TLS that admits one nkey user.
func Secure(opts ...func(*server.Options)) func(*server.Options) {
	return func(o *server.Options) {
		for _, f := range opts {
			f(o)
		}
	}
}
