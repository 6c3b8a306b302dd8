package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/ops/bench"
)

// runBenchScan measures gate scans over HTTP on loopback against raw
// synchronous JetStream publishes on the same server, in the same run (see
// bench.RunScan): it starts the real backend in-process on embedded
// servers, creates the staff accounts with `ops staff add`, registers
// residents with passes through the API, and prints a table or, with
// --json, one JSON object. A missed target is reported, not a failure.
func runBenchScan(ctx context.Context, env *environ, args []string) error {
	def, quickDef := bench.ScanDefaults(), bench.ScanQuick()
	fs := flag.NewFlagSet("bench-scan", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout (the table goes to stderr)")
	quick := fs.Bool("quick", false, fmt.Sprintf("small sizes (scans %d, residents %d, batches %d) unless given", quickDef.Scans, quickDef.Residents, quickDef.Batches))
	clients := fs.Int("clients", def.Clients, "concurrent HTTP clients, and raw publishers")
	scans := fs.Int("scans", def.Scans, "timed scans, and timed raw publishes")
	residents := fs.Int("residents", def.Residents, "residents with passes; the scans cycle over their tokens")
	batches := fs.Int("batches", def.Batches, "500-scan offline batches timed")
	sync := fs.String("nats-sync", "always", "embedded JetStream sync policy, as the backend's --nats-sync: always (fsync before ack, the default) or an interval such as 2m")
	projectors := fs.Bool("projectors", false, "run the projectors in the benchmarked backend too (default: an API replica, --projectors=false)")
	wxPort := fs.Int("wxmock-port", 0, "port of the backend's in-process fake WeChat (0: a free one)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the first timed scans (whole process: backend, NATS, clients) to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := def
	if *quick {
		cfg = quickDef
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	set := func(name string, dst *int, v int) {
		if given[name] || !*quick {
			*dst = v
		}
	}
	set("clients", &cfg.Clients, *clients)
	set("scans", &cfg.Scans, *scans)
	set("residents", &cfg.Residents, *residents)
	set("batches", &cfg.Batches, *batches)
	cfg.NATSSync, cfg.Projectors, cfg.WxmockPort = *sync, *projectors, *wxPort
	cfg.Progress = env.stderr
	cfg.Log = env.log
	cfg.AddStaff = func(ctx context.Context, s bench.ScanServers, role auth.Role, scope string) (string, error) {
		var out bytes.Buffer
		senv := &environ{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }, log: env.log}
		if err := runStaff(ctx, senv, []string{"add", "--role", string(role), "--scope", scope, "--label", "bench",
			"--data", s.DataDir, "--nats-url", s.NATSURL, "--mongo-uri", s.MongoURI}); err != nil {
			return "", err
		}
		return strings.TrimSpace(out.String()), nil
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.CPUProfile = f
	}
	rep, err := bench.RunScan(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := rep.WriteTable(env.stderr); err != nil {
			return err
		}
		return json.NewEncoder(env.stdout).Encode(rep)
	}
	return rep.WriteTable(env.stdout)
}
