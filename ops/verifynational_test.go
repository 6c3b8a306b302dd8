package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/provincelogs"
	"github.com/onebook/onebook/events/seal/sealtest"
)

// TestVerifyNational runs ops verify --national against a national log
// that recorded province 31's history, served beside province 31's
// honest log, and beside a fork of it signed with the same key: the first
// verifies down to a province event, the second fails naming the fork.
func TestVerifyNational(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, njs := natstest.Start(t).Connect()
	nation := sealtest.Open(t, njs, sealtest.Key(t, "onebook.test/national"))
	provSkey := sealtest.Key(t, "onebook.test/p/31")
	_, pjs := natstest.Start(t).Connect()
	honest := sealtest.Open(t, pjs, provSkey)
	honest.Grow(t, "310101", "a", 0, 40)
	_, fjs := natstest.Start(t).Connect()
	forked := sealtest.Open(t, fjs, provSkey)
	forked.Grow(t, "310101", "a", 0, 30)
	forked.Grow(t, "310101", "b", 30, 50)

	reg := events.NewRegistry()
	nationevents.Register(reg)
	rec, err := provincelogs.NewRecorder(nation.Store, reg, []provincelogs.Province{{Code: "31", Key: honest.Key}})
	if err != nil {
		t.Fatal(err)
	}
	msg, _, _, err := honest.Prover.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Record(ctx, "31", msg, honest.Prover); err != nil {
		t.Fatal(err)
	}
	nation.SealTo(t, 1)

	data := t.TempDir()
	for dir, key := range map[string]string{"nation": nation.Key, "p31": honest.Key} {
		if err := os.MkdirAll(filepath.Join(data, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, dir, "seal.key.pub"), []byte(key+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		province *sealtest.Log
		code     int
		want     []string
	}{
		{"honest", honest, 0, []string{"ok   province 31: 1 checkpoints recorded", "ok   chain to event 7 of province 31",
			"province checkpoint size 40 includes event 7"}},
		{"forked", forked, 1, []string{"FAIL province 31", "FORK: the province serves its residents a checkpoint of size 50"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle("/national/", http.StripPrefix("/national", nation.Handler()))
			mux.Handle("/p/31/", http.StripPrefix("/p/31", tc.province.Handler()))
			srv := httptest.NewServer(mux)
			defer srv.Close()
			var out bytes.Buffer
			env := &environ{stdout: &out, stderr: &out, getenv: func(string) string { return "" }, log: slog.New(slog.DiscardHandler)}
			code := run(ctx, env, []string{"verify", "--national", srv.URL, "--data", data, "--partitions", "31", "--event", "31:7"})
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
