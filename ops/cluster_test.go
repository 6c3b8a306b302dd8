package main

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
)

// TestClusterFaults runs the fault scenarios of ops cluster faults on a
// real cluster (three JetStream nodes in this process, two API replicas and
// two workers in processes of their own), each under 64 clients posting
// scans through both API replicas: after each, every acknowledged scan is
// in the ledger exactly once at the sequence it was answered with, nothing
// is there twice or unsent, clients saw only 200, 409 duplicate (a retry of
// a scan already recorded) and 503 with Retry-After, and ops verify passes.
// The failover times are logged.
//
// By default (and with -short, as in CI) it runs the worker kill and the
// leader kill with 400 scans each, about a minute; the full form (every
// fault, 2,000 scans each, several minutes) is
//
//	ONEBOOK_CLUSTER_FAULTS=full go test ./ops -run TestClusterFaults -count=1 -v
//
// or, printing a table, go run ./ops cluster faults.
func TestClusterFaults(t *testing.T) {
	cfg := faultConfig{Faults: []string{"worker-kill", "leader-kill"}, Clients: 64, Scans: 400, Residents: 10, Timeout: 4 * time.Minute, Progress: testLog{t}}
	if os.Getenv("ONEBOOK_CLUSTER_FAULTS") == "full" {
		cfg.Faults, cfg.Scans, cfg.Residents, cfg.Timeout = faultNames, 2000, 20, 15*time.Minute
	}
	env := &environ{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, log: slog.New(slog.DiscardHandler)}
	res, err := runFaults(t.Context(), env, cfg)
	var out strings.Builder
	writeFaults(&out, res)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(cfg.Faults) {
		t.Fatalf("%d of %d faults ran", len(res), len(cfg.Faults))
	}
	for _, r := range res {
		if len(r.Problems) > 0 {
			t.Errorf("%s: %s", r.Fault, strings.Join(r.Problems, "\n"))
		}
		if r.Acked < cfg.Scans || r.Statuses["503 without Retry-After"] > 0 {
			t.Errorf("%s: %d of %d scans acknowledged, %v", r.Fault, r.Acked, cfg.Scans, r.Statuses)
		}
	}
}

// TestCellFaults runs the faults of a cluster with a ledger per province
// (ops cluster faults --partitions): four provinces (11, 31, 44, 51) on
// the three JetStream nodes, every province under load at once, the node
// leading province 31's ledger killed and restarted, then a node that
// does not lead it. For each province, every acknowledged scan is in its
// ledger once at the sequence it was answered with, nothing is there twice,
// unsent or of another province's load, ops verify --cell passes, and the
// national ledger holds no scan. The counts are logged.
//
// By default 100 scans per province and fault from 32 clients, both
// faults; with -short (as in CI) the leader kill alone (a node killed and
// restarted, and the leader of province 31's ledger with it), to keep the
// suite short; the full form (both, 500 scans each from 64 clients) is
//
//	ONEBOOK_CLUSTER_FAULTS=full go test ./ops -run TestCellFaults -count=1 -v
//
// or go run ./ops cluster faults --partitions 11,31,44,51.
func TestCellFaults(t *testing.T) {
	provinces := []events.Region{"11", "31", "44", "51"}
	cfg := faultConfig{Faults: cellFaultNames, Clients: 32, Scans: 100, Residents: 5, Timeout: 5 * time.Minute, Progress: testLog{t}}
	switch {
	case os.Getenv("ONEBOOK_CLUSTER_FAULTS") == "full":
		cfg.Clients, cfg.Scans, cfg.Residents, cfg.Timeout = 64, 500, 10, 15*time.Minute
	case testing.Short():
		cfg.Faults = cellFaultNames[:1]
	}
	env := &environ{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, log: slog.New(slog.DiscardHandler)}
	res, err := runCellFaults(t.Context(), env, cfg, provinces, "31")
	var out strings.Builder
	writeCellFaults(&out, res)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if want := len(cfg.Faults) * (len(provinces) + 1); len(res) != want {
		t.Fatalf("%d results, want %d (a province's and the nation's per fault)", len(res), want)
	}
	for _, r := range res {
		name := r.Fault + " " + partition.Name(r.Cell)
		if len(r.Problems) > 0 {
			t.Errorf("%s: %s", name, strings.Join(r.Problems, "\n"))
		}
		n := r.Ledger
		if n.Lost+n.Moved+n.Duplicated+n.Unsent+n.Foreign > 0 {
			t.Errorf("%s: %+v", name, n)
		}
		if r.Cell != partition.Nation && (r.Acked < cfg.Scans || n.InLedger < r.Acked || r.Statuses["503 without Retry-After"] > 0) {
			t.Errorf("%s: %d of %d scans acknowledged, %d in the ledger, %v", name, r.Acked, cfg.Scans, n.InLedger, r.Statuses)
		}
	}
}

// testLog writes each line to the test's log, with the time since the
// test began.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
