package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/seal"
)

// natsEnv is an embedded NATS JetStream server with its temporary storage,
// one client connection and the ledger opened on it.
type natsEnv struct {
	srv   *embedded.NATSServer
	nc    *nats.Conn
	js    jetstream.JetStream
	store *ledger.Store
}

// startNATS starts an embedded server on loopback with a random port,
// storing under the subdirectory name of the run's directory, with the
// configured sync policy, and opens the ledger stream on it.
func (r *runner) startNATS(ctx context.Context, name string) (*natsEnv, error) {
	opts, err := r.cfg.syncOptions()
	if err != nil {
		return nil, err
	}
	return r.startNATSWith(ctx, name, opts)
}

// startNATSWith is startNATS with the given sync options.
func (r *runner) startNATSWith(ctx context.Context, name string, opts embedded.NATSOptions) (*natsEnv, error) {
	opts.Dir, opts.Logger = subdir(r.dir, name), r.quiet
	srv, err := embedded.StartNATS(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	e := &natsEnv{srv: srv}
	e.nc, err = nats.Connect(srv.ClientURL(), nats.Name("onebook-bench"), nats.Timeout(5*time.Second))
	if err != nil {
		e.close()
		return nil, fmt.Errorf("connect %s: %w", srv.ClientURL(), err)
	}
	if e.js, err = jetstream.New(e.nc); err != nil {
		e.close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if e.store, err = ledger.Open(ctx, e.js, ledger.Config{}); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *natsEnv) url() string { return e.srv.ClientURL() }

func (e *natsEnv) close() {
	if e.nc != nil {
		e.nc.Close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
	}
}

// ledgerSize is the last sequence of the ledger stream.
func (e *natsEnv) ledgerSize(ctx context.Context) (uint64, error) {
	return e.store.Size(ctx)
}

// sealEnv is the seal of the ledger: a fresh signing key, the tile bucket
// and the checkpoint stream, with their default names as the backend uses
// them.
type sealEnv struct {
	signer note.Signer
	vkey   string
	tiles  *seal.Tiles
	cps    *seal.Checkpoints
}

// Origin is the checkpoint origin of the benchmark's ledger.
const Origin = "onebook.bench/ledger"

// CheckpointStream is the stream of signed checkpoints (seal's default).
const CheckpointStream = "LEDGER_SEAL"

// openSeal makes a signing key and opens the seal's storage on js.
func openSeal(ctx context.Context, js jetstream.JetStream) (*sealEnv, error) {
	skey, vkey, err := seal.GenerateKey(Origin)
	if err != nil {
		return nil, err
	}
	signer, _, err := seal.LoadSigner(skey)
	if err != nil {
		return nil, err
	}
	s := &sealEnv{signer: signer, vkey: vkey}
	return s, s.open(ctx, js)
}

// open opens (again, after a server restart) the tile bucket and the
// checkpoint stream on js.
func (s *sealEnv) open(ctx context.Context, js jetstream.JetStream) error {
	var err error
	if s.tiles, err = seal.OpenTiles(ctx, js, seal.TilesConfig{}); err != nil {
		return err
	}
	s.cps, err = seal.OpenCheckpoints(ctx, js, seal.CheckpointsConfig{Stream: CheckpointStream, VerifierKey: s.vkey})
	return err
}

// sealer returns a fresh sealer over the ledger stream of e.
func (s *sealEnv) sealer(js jetstream.JetStream, log *slog.Logger) (*seal.Sealer, error) {
	return seal.NewSealer(js, seal.SealerConfig{Ledger: "LEDGER", Signer: s.signer, Tiles: s.tiles, Checkpoints: s.cps, Logger: log})
}

// mongoEnv is an embedded FerretDB (SQLite) with one client.
type mongoEnv struct {
	srv    *embedded.MongoServer
	client *mongo.Client
}

func startMongo(ctx context.Context, dir string, log *slog.Logger) (*mongoEnv, error) {
	srv, err := embedded.StartMongo(ctx, embedded.MongoOptions{Dir: dir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("embedded FerretDB: %w", err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetTimeout(60 * time.Second).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		_ = srv.Shutdown(ctx)
		return nil, fmt.Errorf("connect FerretDB %s: %w", srv.URI(), err)
	}
	return &mongoEnv{srv: srv, client: client}, nil
}

// close disconnects first: FerretDB otherwise waits for connected clients.
func (m *mongoEnv) close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return errors.Join(m.client.Disconnect(ctx), m.srv.Shutdown(ctx))
}

func subdir(root, name string) string { return filepath.Join(root, name) }
