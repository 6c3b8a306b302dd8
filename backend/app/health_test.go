package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/miniapp-api/api"
)

// TestHealthSaysNoErrorText: with a component failing, the public health
// answer marks it degraded and says nothing of why (no host, port or error
// message); the cause is in the log.
func TestHealthSaysNoErrorText(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	srv, err := embedded.StartNATS(ctx, embedded.NATSOptions{Dir: t.TempDir(), Port: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	// A MongoDB address where nothing listens: every ping fails with an
	// error naming it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()
	mc, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + deadAddr + "/").SetServerSelectionTimeout(100 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Disconnect(ctx) })
	_, vkey, err := seal.GenerateKey("test.example/ledger")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		breakNATS bool
		want      api.Components
	}{
		{"store down", false, api.Components{NATS: api.OK, Ledger: api.OK, Seal: api.OK, Store: api.Degraded}},
		{"store and NATS down", true, api.Components{NATS: api.Degraded, Ledger: api.Degraded, Seal: api.Degraded, Store: api.Degraded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := nats.Connect(srv.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			led, err := OpenLedger(ctx, js, config.Config{Replicas: 1, DedupWindow: time.Minute}, vkey)
			if err != nil {
				t.Fatal(err)
			}
			if tt.breakNATS {
				nc.Close()
			}
			var logs bytes.Buffer
			a := &App{log: slog.New(slog.NewTextHandler(&logs, nil)), servers: &Servers{NC: nc, JS: js, Mongo: mc}, ledger: led}
			st := a.Health(ctx)
			if st.Ready || st.Components != tt.want {
				t.Fatalf("health %+v, want not ready with %+v", st, tt.want)
			}
			body, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			// Every string in the answer is a component state (or the
			// empty root hash of an unsealed ledger): no free text.
			var walk func(v any)
			walk = func(v any) {
				switch v := v.(type) {
				case string:
					if v != "ok" && v != "degraded" && v != "" {
						t.Errorf("health answer carries text %q: %s", v, body)
					}
				case map[string]any:
					for _, e := range v {
						walk(e)
					}
				case []any:
					for _, e := range v {
						walk(e)
					}
				}
			}
			walk(doc)
			if !bytes.Contains(logs.Bytes(), []byte(deadAddr)) {
				t.Errorf("the log does not say why the store is degraded:\n%s", logs.String())
			}
		})
	}
}
