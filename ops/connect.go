package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/outbox"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/projections/mongostore"
)

// conn holds the connection settings every command shares. Defaults reach a
// backend running on its embedded defaults on this machine.
type conn struct {
	natsURL, mongoURI, mongoDB, key, data string
	natsAuth                              app.NATSAuth
	// With ONEBOOK_PARTITIONS: the cell to work on and the folder of the
	// cells' NATS credentials (parse derives the rest).
	cell, credsDir string
}

func (c *conn) flags(fs *flag.FlagSet, env *environ) {
	def := func(k, d string) string {
		if v := env.getenv(k); v != "" {
			return v
		}
		return d
	}
	fs.StringVar(&c.natsURL, "nats-url", def("NATS_URL", "nats://127.0.0.1:"+def("ONEBOOK_NATS_PORT", "4222")), "NATS server URL(s) ($NATS_URL)")
	fs.StringVar(&c.natsAuth.Creds, "nats-creds", def("NATS_CREDS", ""), "NATS .creds file ($NATS_CREDS)")
	fs.StringVar(&c.natsAuth.NKey, "nats-nkey", def("NATS_NKEY", ""), "file of an nkey seed ($NATS_NKEY)")
	fs.StringVar(&c.natsAuth.CA, "nats-ca", def("NATS_CA", ""), "PEM of the NATS servers' CA ($NATS_CA)")
	fs.StringVar(&c.natsAuth.Cert, "nats-cert", def("NATS_CERT", ""), "client certificate for NATS mutual TLS ($NATS_CERT)")
	fs.StringVar(&c.natsAuth.Key, "nats-key", def("NATS_KEY", ""), "its key ($NATS_KEY)")
	fs.StringVar(&c.mongoURI, "mongo-uri", def("MONGO_URI", "mongodb://127.0.0.1:"+def("ONEBOOK_MONGO_PORT", "27017")+"/"), "MongoDB URI ($MONGO_URI)")
	fs.StringVar(&c.mongoDB, "mongo-db", def("MONGO_DB", "onebook"), "MongoDB database ($MONGO_DB)")
	fs.StringVar(&c.data, "data", def("ONEBOOK_DATA", "./data"), "backend data directory, where seal.key.pub is looked for ($ONEBOOK_DATA)")
	fs.StringVar(&c.cell, "cell", def("ONEBOOK_CELL", ""), "with ONEBOOK_PARTITIONS: the ledger to work on, a province code (31) or CN for the national one; --data, --mongo-db and the NATS user are then that cell's (DATA/p31, MONGO_DB_p31, NATS_CREDS_DIR/p31.nkey or .creds) ($ONEBOOK_CELL)")
	fs.StringVar(&c.credsDir, "nats-creds-dir", def("ONEBOOK_NATS_CREDS_DIR", ""), "with --cell: the folder of the cells' NATS credentials; default DATA/nats-users, the embedded server's ($ONEBOOK_NATS_CREDS_DIR)")
	fs.StringVar(&c.key, "key", def("ONEBOOK_VERIFIER_KEY", ""), "checkpoint verifier key (name+hash+base64) or a file holding it; default DATA/seal.key.pub ($ONEBOOK_VERIFIER_KEY)")
}

// parse parses the command's flags and, with --cell, makes the
// connection settings the cell's, as the backend derives them
// (config.Config.ForCell, app.CellAuth).
func (c *conn) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.cell == "" {
		return nil
	}
	code := events.Region(c.cell)
	if code != events.National {
		ps, err := partition.Parse(c.cell)
		if err != nil || len(ps) != 1 {
			return fmt.Errorf("--cell: %q is neither a 2-digit province code nor %s (%v)", c.cell, events.National, err)
		}
	}
	if c.credsDir == "" {
		c.credsDir = filepath.Join(c.data, "nats-users")
	}
	cc := config.Config{DataDir: c.data, MongoDB: c.mongoDB, NATSCredsDir: c.credsDir}.ForCell(code)
	c.data, c.mongoDB = cc.DataDir, cc.MongoDB
	if c.natsAuth.Creds == "" && c.natsAuth.NKey == "" {
		auth, err := app.CellAuth(cc)
		if err != nil {
			return err
		}
		c.natsAuth.Creds, c.natsAuth.NKey = auth.Creds, auth.NKey
	}
	return nil
}

// verifierKey returns the key checkpoints must be signed with. It comes from
// the operator (flag, environment or the public key file beside the
// backend's data), never from the server being checked.
func (c *conn) verifierKey() (string, error) {
	k := c.key
	if k == "" {
		k = filepath.Join(c.data, "seal.key.pub")
	}
	if _, err := note.NewVerifier(k); err == nil {
		return k, nil
	}
	b, err := os.ReadFile(k)
	if err != nil {
		return "", fmt.Errorf("verifier key: %w (give --key or $ONEBOOK_VERIFIER_KEY)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ledgerConn is what the commands that check the ledger work with.
type ledgerConn struct {
	vkey     string
	verifier note.Verifier
	nc       *nats.Conn
	js       jetstream.JetStream
	info     *jetstream.StreamInfo // of the ledger stream, read before opening it
	led      *app.Ledger
}

func (l *ledgerConn) Close() { l.nc.Close() }

// openLedger connects with the operator's verifier key and opens the
// ledger with the settings the running stream already has (replicas, dedup
// window), so that checking never reconfigures what it checks.
func (c *conn) openLedger(ctx context.Context) (*ledgerConn, error) {
	vkey, err := c.verifierKey()
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	nc, js, err := c.nats(ctx)
	if err != nil {
		return nil, err
	}
	l := &ledgerConn{vkey: vkey, verifier: verifier, nc: nc, js: js}
	st, err := js.Stream(ctx, "LEDGER")
	if err == nil {
		l.info, err = st.Info(ctx)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ledger stream: %w", err)
	}
	// A cell's ledger keeps its routing rule, and the national ledger its
	// sources (the provinces' OUTBOX streams): opening brings the
	// stream's configuration up to date, which must not drop them.
	cfg := config.Config{Replicas: l.info.Config.Replicas, DedupWindow: l.info.Config.Duplicates, Cell: events.Region(c.cell),
		Sourced: outbox.Sourced(l.info.Config.Sources)}
	if l.led, err = app.OpenLedger(ctx, js, cfg, vkey); err != nil {
		nc.Close()
		return nil, err
	}
	return l, nil
}

func (c *conn) nats(ctx context.Context) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := c.natsAuth.Connect(c.natsURL, nats.Name("onebook-ops"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect NATS %s: %w", c.natsURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func (c *conn) mongo(ctx context.Context) (*mongo.Client, *mongo.Database, error) {
	client, err := mongo.Connect(mongostore.ClientOptions(c.mongoURI).SetTimeout(30 * time.Second).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect MongoDB: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx, nil); err != nil {
		client.Disconnect(ctx)
		return nil, nil, fmt.Errorf("connect MongoDB %s: %w (is the backend running? set MONGO_URI)", c.mongoURI, err)
	}
	return client, client.Database(c.mongoDB), nil
}

// progress returns a function that prints "label done/total (pct)" to w at
// most once a second, and a final line when done reaches total.
func progress(w io.Writer, label string, total uint64) func(done uint64) {
	var mu sync.Mutex
	last := time.Now()
	start := last
	return func(done uint64) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if done < total && now.Sub(last) < time.Second {
			return
		}
		last = now
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(done) / float64(total)
		}
		rate := float64(done) / max(now.Sub(start).Seconds(), 1e-9)
		fmt.Fprintf(w, "%s %d/%d (%.0f%%, %.0f/s)\n", label, done, total, pct, rate)
	}
}

// sealedRegistry returns the registry of every event type with the keyring
// that opens sealed payloads: the backend's vault, read with the keys in
// the data directory. The vault's bucket keeps the replicas it has.
func (c *conn) sealedRegistry(ctx context.Context, js jetstream.JetStream) (*events.Registry, error) {
	replicas := 1
	if st, err := js.Stream(ctx, "KV_person_keys"); err == nil {
		replicas = st.CachedInfo().Config.Replicas
	}
	vault, err := app.OpenVault(ctx, js, c.data, replicas, false)
	if err != nil {
		return nil, err
	}
	return schemas.Registry().WithKeyring(vault), nil
}
