// Command ops is how operators run and check onebook: verify the whole
// ledger and every projection, rebuild a projection, generate and inspect
// seal keys and checkpoints, benchmark against raw baselines, and run the
// test suite with everything it needs installed.
//
// Usage: go run ./ops COMMAND [flags]; go run ./ops help lists the commands.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one ops subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *environ, args []string) error
}

// environ is what every command gets: output streams, a logger and the
// process environment (as a function, so tests can supply their own).
type environ struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	getenv         func(string) string
}

func commands() map[string]command {
	return map[string]command{
		"test":          {"install what the tests need, then vet and run every test", runTest},
		"bench":         {"benchmark the ledger core against raw baselines on embedded servers", runBench},
		"verify":        {"replay the ledger, check every checkpoint, proof and projection document", runVerify},
		"rebuild":       {"drop a projection and fold it again from the ledger: rebuild NAME", runRebuild},
		"export":        {"write a verifiable export bundle of a view: export VIEW --format csv|xlsx --out DIR | export --list", runExport},
		"verify-export": {"check an export bundle offline: verify-export BUNDLE --key PUBKEY [--url URL] [--witnesses KEYS [--witness-quorum K]]", runVerifyExport},
		"keygen":        {"create a checkpoint signing key and print its verifier key", runKeygen},
		"bench-scan":    {"benchmark gate scans over HTTP against raw JetStream publishes, same run", runScanBench},
		"cluster":       {"run a 3-node JetStream cluster, a shared store, 2 API replicas and a worker on loopback until Ctrl-C | cluster faults: fault scenarios under load, with failover times", runCluster},
		"checkpoint":    {"print the latest signed checkpoint and check it", runCheckpoint},
		"staff":         {"create a staff account with a role and region scope: staff add --role R --scope REGION", runStaff},
		"wxmock":        {"run a fake WeChat API server for local development and tests", runWxmock},
		"witness":       {"cosign checkpoints as another party: witness keygen --name N | witness serve --addr A --state DIR --key K --log V (C2SP tlog-witness) | witness run --url U --key K --state DIR --origin-key V (older pull mode)", runWitness},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &environ{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	os.Exit(run(ctx, env, os.Args[1:]))
}

func run(ctx context.Context, env *environ, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "ops: unknown command %q\n\n", args[0])
		usage(env.stderr, cmds)
		return 2
	}
	if err := c.run(ctx, env, args[1:]); err != nil {
		fmt.Fprintf(env.stderr, "ops %s: %v\n", args[0], err)
		if ec, ok := err.(interface{ ExitCode() int }); ok {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: go run ./ops COMMAND [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nNATS_URL and MONGO_URI select the servers; the defaults reach a backend running on its embedded defaults.")
}
