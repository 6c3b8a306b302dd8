// Package app wires onebook together: it starts the embedded servers unless
// external ones are configured, opens the ledger, runs the sealer and the
// projectors, and serves the HTTP API until told to stop.
package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/caseviews"
	"github.com/onebook/onebook/projections/donationviews"
	"github.com/onebook/onebook/projections/mongostore"
	"github.com/onebook/onebook/projections/passviews"
	"github.com/onebook/onebook/projections/trace"
)

// Projections returns every projection onebook maintains.
func Projections() []projections.Projection {
	return slices.Concat(passviews.All(), trace.All(), caseviews.All(), donationviews.All())
}

// Servers are the connections to the two stores, embedded or external.
type Servers struct {
	NC    *nats.Conn
	JS    jetstream.JetStream
	Mongo *mongo.Client
	DB    *mongo.Database

	natsSrv  *embedded.NATSServer
	mongoSrv *embedded.MongoServer
	url      string // the NATS servers', for the cells' connections
	cell     bool   // a cell's (ForCell): its own NATS connection, the process's Mongo client
}

// Connect starts the embedded servers that are not configured as external,
// and connects to both. With partitions (cfg.Partitions) the embedded NATS
// server has an account per cell (NATSAccounts) and no connection is made
// here: each cell makes its own (Servers.Cell).
func Connect(ctx context.Context, cfg config.Config, log *slog.Logger) (*Servers, error) {
	s := &Servers{}
	natsURL := cfg.NATSURL
	if natsURL == "" {
		opts := embedded.NATSOptions{Dir: filepath.Join(cfg.DataDir, "nats"), Port: cfg.NATSPort, Logger: log, SyncAlways: cfg.NATSSync == "always"}
		if !opts.SyncAlways {
			opts.SyncInterval, _ = time.ParseDuration(cfg.NATSSync) // validated by config
		}
		if len(cfg.Partitions) > 0 {
			var err error
			if opts.Accounts, err = NATSAccounts(cfg); err != nil {
				return nil, err
			}
		}
		srv, err := embedded.StartNATS(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		s.natsSrv, natsURL = srv, srv.ClientURL()
		log.Info("embedded NATS JetStream listening", "url", natsURL, "dir", filepath.Join(cfg.DataDir, "nats"))
	}
	s.url = natsURL
	if len(cfg.Partitions) == 0 {
		connect := nats.Connect
		if cfg.NATSURL != "" { // the embedded server is on loopback and needs none
			connect = NATSAuth{Creds: cfg.NATSCreds, NKey: cfg.NATSNKey, CA: cfg.NATSCA, Cert: cfg.NATSCert, Key: cfg.NATSKey}.Connect
		}
		if err := s.connectNATS(connect, log); err != nil {
			s.Close(ctx)
			return nil, err
		}
	}
	mongoURI := cfg.MongoURI
	if mongoURI == "" {
		srv, err := embedded.StartMongo(ctx, embedded.MongoOptions{Dir: filepath.Join(cfg.DataDir, "ferretdb"), Port: cfg.MongoPort, Logger: log})
		if err != nil {
			s.Close(ctx)
			return nil, fmt.Errorf("embedded FerretDB: %w", err)
		}
		s.mongoSrv, mongoURI = srv, srv.URI()
		log.Info("embedded MongoDB-compatible store (FerretDB, SQLite) listening", "uri", mongoURI, "dir", filepath.Join(cfg.DataDir, "ferretdb"))
	}
	client, err := mongo.Connect(mongostore.ClientOptions(mongoURI).SetTimeout(30 * time.Second))
	if err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("connect MongoDB: %w", err)
	}
	s.Mongo, s.DB = client, client.Database(cfg.MongoDB)
	return s, nil
}

// connectNATS connects to s.url with connect, reconnecting for ever.
func (s *Servers) connectNATS(connect func(string, ...nats.Option) (*nats.Conn, error), log *slog.Logger) error {
	// The connection's name says which replica it is (as the leases do),
	// so that a server's connection list tells replicas apart.
	host, _ := os.Hostname()
	nc, err := connect(s.url, nats.Name(fmt.Sprintf("onebook %s:%d", host, os.Getpid())), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrl()) }))
	if err != nil {
		return fmt.Errorf("connect NATS %s: %w", s.url, err)
	}
	s.NC = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	s.JS = settling{JetStream: js, log: log}
	return nil
}

// Cell connects the cell of cfg (config.Config.ForCell) as its account's
// user (CellAuth), and gives it its own database on the process's MongoDB
// client. Closing it closes only its NATS connection.
func (s *Servers) Cell(ctx context.Context, cfg config.Config, log *slog.Logger) (*Servers, error) {
	c := &Servers{url: s.url, cell: true, Mongo: s.Mongo, DB: s.Mongo.Database(cfg.MongoDB)}
	auth, err := CellAuth(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.connectNATS(auth.Connect, log.With("cell", cfg.Cell)); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("cell %s: %w", cfg.Cell, err)
	}
	return c, nil
}

// Close disconnects and stops embedded servers, NATS last so that nothing
// acknowledged is in flight when it goes down.
func (s *Servers) Close(ctx context.Context) {
	if s.Mongo != nil && !s.cell {
		_ = s.Mongo.Disconnect(ctx)
	}
	if s.mongoSrv != nil {
		_ = s.mongoSrv.Shutdown(ctx)
	}
	if s.NC != nil {
		_ = s.NC.Drain()
		for i := 0; i < 100 && !s.NC.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if s.natsSrv != nil {
		s.natsSrv.Shutdown()
	}
}

// LoadOrCreateKey reads the seal's signing key, creating it (and a .pub file
// beside it with the verifier key) on first start.
func LoadOrCreateKey(path, origin string, log *slog.Logger) (skey string, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read seal key: %w", err)
	}
	skey, vkey, err := seal.GenerateKey(origin)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write seal key: %w", err)
	}
	if err := os.WriteFile(path+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write verifier key: %w", err)
	}
	log.Warn("generated a new seal signing key; back it up and publish the verifier key", "key", path, "verifier", vkey)
	return skey, nil
}

func b64(h [32]byte) string { return base64.StdEncoding.EncodeToString(h[:]) }

// listen binds addr before serving, so start-up fails early on a busy port.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}
