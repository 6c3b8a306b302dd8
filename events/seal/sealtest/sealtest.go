// Package sealtest is what the tests of the seal and of the code around it
// share: sealed ledgers opened on test JetStream servers and served as
// C2SP tlog-tiles over HTTP, for the tests of code that audits logs from
// outside (the national log of logs, tlogclient); and a witness whose
// cosignature/v1 (C2SP tlog-cosignature) keys are made and used by
// transparency-dev/formats, the reference implementation, so that
// onebook's own cosignature code is checked against another
// implementation rather than against itself (witness.go).
package sealtest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/seal"
)

// Log is a ledger with its seal, all under default names on one server
// (or one account): open each on a server of its own.
type Log struct {
	JS     jetstream.JetStream
	Store  *ledger.Store
	Signer note.Signer
	Key    string // verifier key; its name is the origin
	Prover *seal.Prover
	sealer *seal.Sealer
}

// Open opens the ledger and its seal on js, signing with skey (a key of
// seal.GenerateKey). Two logs opened with one key on two servers and
// given different events are a fork.
func Open(t testing.TB, js jetstream.JetStream, skey string) *Log {
	t.Helper()
	ctx := context.Background()
	l := &Log{JS: js}
	var err error
	if l.Store, err = ledger.Open(ctx, js, ledger.Config{}); err != nil {
		t.Fatal(err)
	}
	if l.Signer, l.Key, err = seal.LoadSigner(skey); err != nil {
		t.Fatal(err)
	}
	tiles, err := seal.OpenTiles(ctx, js, seal.TilesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cps, err := seal.OpenCheckpoints(ctx, js, seal.CheckpointsConfig{VerifierKey: l.Key})
	if err != nil {
		t.Fatal(err)
	}
	l.Prover = seal.NewProver(cps, tiles)
	l.sealer, err = seal.NewSealer(js, seal.SealerConfig{Signer: l.Signer, Tiles: tiles, Checkpoints: cps,
		Logger: slog.New(slog.DiscardHandler), Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Key returns a new signing key for origin.
func Key(t testing.TB, origin string) string {
	t.Helper()
	skey, _, err := seal.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	return skey
}

// Event is test event n of a region: the same bytes for the same (salt,
// n), distinct otherwise, so that two logs given the same events up to
// some n and different salts from there share a prefix and then differ.
func Event(region events.Region, salt string, n int) events.Event {
	return events.Event{
		ID:        uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%s/%s/%d", region, salt, n)).String(),
		Type:      "test.appended",
		Version:   1,
		Aggregate: events.Aggregate{Kind: "test", ID: fmt.Sprintf("a%d", n%7)},
		Region:    region,
		Actor:     events.Actor{Role: "system"},
		Time:      time.Date(2020, 2, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second),
		Payload:   []byte(fmt.Sprintf(`{"n":%d,"salt":%q}`, n, salt)),
	}
}

// Grow appends test events from..to-1 of region with salt and seals the
// ledger up to its size, returning the checkpoint.
func (l *Log) Grow(t testing.TB, region events.Region, salt string, from, to int) seal.SignedCheckpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for n := from; n < to; n++ {
		if _, err := l.Store.Append(ctx, Event(region, salt, n), events.ExpectAny()); err != nil {
			t.Fatal(err)
		}
	}
	size, err := l.Store.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return l.SealTo(t, size)
}

// SealTo seals the ledger up to size events.
func (l *Log) SealTo(t testing.TB, size uint64) seal.SignedCheckpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, err := l.sealer.SealTo(ctx, size)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// Serve serves the log's C2SP tlog-tiles surface (/checkpoint, /tile/...)
// under prefix on a test HTTP server and returns the log's URL.
func (l *Log) Serve(t testing.TB, prefix string) string {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix(prefix, l.Handler()))
	t.Cleanup(srv.Close)
	return srv.URL + prefix
}

// Handler serves the log as C2SP tlog-tiles, as the backend's routes do
// (miniapp-api/api/tiles.go), without cosignatures or cache headers.
func (l *Log) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkpoint", func(w http.ResponseWriter, r *http.Request) {
		note, _, _, err := l.Prover.Latest(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(note)
	})
	mux.HandleFunc("GET /tile/", func(w http.ResponseWriter, r *http.Request) {
		body, err := l.tile(r.Context(), strings.TrimPrefix(r.URL.Path, "/tile/"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(body)
	})
	return mux
}

func (l *Log) tile(ctx context.Context, path string) ([]byte, error) {
	p, err := seal.ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	_, size, _, err := l.Prover.Latest(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Within(size) {
		return nil, fmt.Errorf("tile %s is beyond the latest checkpoint (%d)", path, size)
	}
	if !p.Entries {
		data, err := l.Prover.ReadTiles(ctx, []tlog.Tile{p.Tile})
		if err != nil {
			return nil, err
		}
		return data[0], nil
	}
	first := uint64(p.Tile.N) << seal.TileHeight
	var body []byte
	err = l.Store.Scan(ctx, first+1, first+uint64(p.Tile.W), func(rec events.Recorded) error {
		body, err = seal.AppendEntry(body, rec.Raw)
		return err
	})
	return body, err
}
