package main

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
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

// testLog writes each line to the test's log, with the time since the
// test began.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
