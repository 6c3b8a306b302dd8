package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/onebook/onebook/ops/bench"
)

// runBench runs the ledger-core benchmarks against their raw baselines on
// embedded servers of its own and prints a table, or with --json one JSON
// object. Missed targets are reported, not failures.
//
// "bench verify-child" is a hidden subcommand: the verify RSS measurement
// re-executes this binary with it, so that the verify pass runs in a
// process whose peak RSS is its own; "bench export-child" likewise runs
// the export part's exports.Write and exports.Verify. "bench scan" runs the gate-scan
// benchmark of the pass service (see runScanBench).
func runBench(ctx context.Context, env *environ, args []string) error {
	if len(args) > 0 && args[0] == "verify-child" {
		return bench.VerifyChild(ctx, args[1:], env.stdout, env.stderr)
	}
	if len(args) > 0 && args[0] == "export-child" {
		return bench.ExportChild(ctx, args[1:], env.stdout, env.stderr)
	}
	if len(args) > 0 && args[0] == "scan" {
		return runScanBench(ctx, env, args[1:]) // ops bench scan = ops bench-scan
	}
	cfg, out, err := benchFlags(env, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for the verify child: %w", err)
	}
	cfg.ChildCommand = []string{exe, "bench", "verify-child"}
	cfg.ExportChildCommand = []string{exe, "bench", "export-child"}
	cfg.Progress = env.stderr
	cfg.Log = env.log

	if out.cpuprofile != "" {
		cfg.ChildCPUProfile = out.cpuprofile
		f, err := os.Create(out.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if out.asJSON {
		if err := rep.WriteTable(env.stderr); err != nil {
			return err
		}
		return json.NewEncoder(env.stdout).Encode(rep)
	}
	return rep.WriteTable(env.stdout)
}

// benchOutput is where runBench writes what it measured.
type benchOutput struct {
	asJSON     bool   // one JSON object on stdout, the table on stderr
	cpuprofile string // a CPU profile of the whole run, when not empty
}

// benchFlags reads runBench's flags: the sizes of each part (--quick's
// unless given) and where the results go.
func benchFlags(env *environ, args []string) (cfg bench.Config, out benchOutput, err error) {
	def := bench.Defaults()
	quickDef := bench.Quick()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	asJSON := fs.Bool("json", false, "print one JSON object on stdout (the table goes to stderr)")
	quick := fs.Bool("quick", false, fmt.Sprintf("small sizes (events %d, proof leaves %d, project events %d, proof samples %d) unless given",
		quickDef.Events, quickDef.ProofLeaves, quickDef.ProjectEvents, quickDef.ProofSamples))
	events := fs.Int("events", def.Events, "events of the throughput parts (append, seal, verify)")
	leaves := fs.Int("proof-leaves", def.ProofLeaves, "ledger size of the verify RSS and proof parts")
	projectEvents := fs.Int("project-events", def.ProjectEvents, "pass.issued events of the projection part (FerretDB is slow)")
	samples := fs.Int("proof-samples", def.ProofSamples, "inclusion proofs timed")
	exportRows := fs.Int("export-rows", def.ExportRows, "rows of the export part's CSV bundle (pass.scanned events; its XLSX bundle has a tenth)")
	snapEvents := fs.Int("snapshot-events", def.SnapshotEvents, "ledger size of the snapshot part (start-to-ready of the decision states with and without snapshots)")
	witnessCheckpoints := fs.Int("witness-checkpoints", def.WitnessCheckpoints, "checkpoints of the witness part timed to their cosignatures, per pusher poll interval")
	groupScans := fs.Int("group-scans", def.GroupScans, "scans of the group commit part's upload (one atomic batch against one append after another)")
	groupReps := fs.Int("group-reps", def.GroupReps, "repetitions of the group commit part, each way")
	partEvents := fs.Int("partition-events", def.PartitionEvents, "events of each configuration of the partitions part (1, 2 and 4 partitions)")
	partBatch := fs.Int("partition-batch", def.PartitionBatch, "events per append of the partitions part: 1 is Store.Append, more one Store.AppendBatch")
	partClients := fs.Int("partition-clients", def.PartitionClients, "clients of the partitions part, spread evenly over the partitions (at most 50 with batches: nats-server's open batches per stream)")
	conc := fs.Int("concurrency", def.Concurrency, "concurrent appenders and raw publishers")
	sync := fs.String("nats-sync", "always", "embedded JetStream sync policy, as the backend's --nats-sync: always (fsync before ack, the backend's default) or an interval such as 2m")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (servers included) to this file, and one of each export child's timed call beside it")
	only := fs.String("only", "", "comma-separated subset of "+strings.Join(bench.Names, ",")+" (seal also runs append: its ratio is over the append rate)")
	if err := fs.Parse(args); err != nil {
		return cfg, out, err
	}
	if fs.NArg() > 0 {
		return cfg, out, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg = def
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
	set("events", &cfg.Events, *events)
	set("proof-leaves", &cfg.ProofLeaves, *leaves)
	set("project-events", &cfg.ProjectEvents, *projectEvents)
	set("proof-samples", &cfg.ProofSamples, *samples)
	set("concurrency", &cfg.Concurrency, *conc)
	set("snapshot-events", &cfg.SnapshotEvents, *snapEvents)
	set("export-rows", &cfg.ExportRows, *exportRows)
	set("witness-checkpoints", &cfg.WitnessCheckpoints, *witnessCheckpoints)
	set("group-scans", &cfg.GroupScans, *groupScans)
	set("group-reps", &cfg.GroupReps, *groupReps)
	set("partition-events", &cfg.PartitionEvents, *partEvents)
	set("partition-batch", &cfg.PartitionBatch, *partBatch)
	set("partition-clients", &cfg.PartitionClients, *partClients)
	cfg.NATSSync = *sync
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	return cfg, benchOutput{asJSON: *asJSON, cpuprofile: *cpuprofile}, nil
}
