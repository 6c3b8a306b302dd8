package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestScanBenchQuick runs the scan benchmark at tiny sizes and checks that
// it reports every figure; it never judges the figures themselves.
func TestScanBenchQuick(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	env := &environ{stdout: &out, stderr: &strings.Builder{}, getenv: func(string) string { return "" }}
	if err := runScanBench(ctx, env, []string{"--quick", "--json", "--wxmock-port", fmt.Sprint(wxPort())}); err != nil {
		t.Fatal(err)
	}
	var res map[string]float64
	dec := json.NewDecoder(strings.NewReader(out.String()))
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("%v in %q", err, out.String())
	}
	res = map[string]float64{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			res[k] = f
		}
	}
	for _, k := range []string{"scan_rate", "raw_publish_rate", "scan_ratio", "scan_p50_ms", "scan_p99_ms", "batch_500_ms", "batch_500_scans_per_s"} {
		if res[k] <= 0 {
			t.Errorf("%s = %v", k, res[k])
		}
	}
	if res["denied"] != 0 {
		t.Errorf("%v scans were denied: the benchmark must measure allowed scans", res["denied"])
	}
}
