package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/ops/cluster"
)

// runCluster runs onebook as a production cluster on this machine (three
// JetStream nodes, a shared store, two API replicas and a worker; see
// package cluster) until interrupted, and prints where everything is.
// "cluster faults" runs the fault scenarios on such a cluster and prints
// what clients saw and the failover times; "cluster replica" is the hidden
// subcommand each replica process runs.
func runCluster(ctx context.Context, env *environ, args []string) error {
	if len(args) > 0 && args[0] == "replica" {
		return runClusterReplica(ctx, env, args[1:])
	}
	if len(args) > 0 && args[0] == "faults" {
		return runClusterFaults(ctx, env, args[1:])
	}
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	dir := fs.String("dir", "", "directory of the cluster's data, kept after it stops; default a temporary one, removed")
	workers := fs.Int("workers", 1, "worker replicas (2: a standby worker takes over when the first dies)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, cleanup, err := startCluster(ctx, env, cluster.Config{Dir: *dir, Workers: *workers})
	if err != nil {
		return err
	}
	defer cleanup()
	w := env.stdout
	fmt.Fprintln(w, "onebook cluster running (Ctrl-C stops it):")
	for _, r := range c.APIs {
		fmt.Fprintf(w, "  API replica %-9s %s\n", r.Name, r.URL())
	}
	for _, r := range c.Workers {
		fmt.Fprintf(w, "  worker      %-9s %s\n", r.Name, r.URL())
	}
	fmt.Fprintf(w, "  NATS_URL    %s\n  MONGO_URI   %s\n  keys        %s (verifier key: seal.key.pub)\n  logs        %s\n  fake WeChat %s (appid %s)\n",
		c.NATSURL(), c.MongoURI(), c.KeysDir(), c.LogDir(), c.WeChatURL(), cluster.WeChatAppID)
	if l := c.LedgerLeader(""); l != nil {
		fmt.Fprintf(w, "  the ledger stream's leader is %s\n", l.Name)
	}
	conn := fmt.Sprintf("--nats-url %s --mongo-uri %s --data %s", c.NATSURL(), c.MongoURI(), c.KeysDir())
	fmt.Fprintf(w, "\nA property manager's invite code: go run ./ops staff add --role property_manager --scope 110105001001 %s\n", conn)
	fmt.Fprintf(w, "Check everything:                go run ./ops verify %s\n", conn)
	<-ctx.Done()
	fmt.Fprintln(env.stderr, "cluster: stopping")
	return nil
}

// startCluster starts a cluster of cfg whose replicas are this
// executable's "cluster replica"; with no cfg.Dir, in a temporary
// directory that cleanup removes. cfg.Command, Env and Log are set here.
func startCluster(ctx context.Context, env *environ, cfg cluster.Config) (*cluster.Cluster, func(), error) {
	rm := func() {}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "onebook-cluster")
		if err != nil {
			return nil, nil, err
		}
		cfg.Dir, rm = d, func() { os.RemoveAll(d) }
	}
	exe, err := os.Executable()
	if err != nil {
		rm()
		return nil, nil, fmt.Errorf("own executable, to run the replicas: %w", err)
	}
	cfg.Command, cfg.Env, cfg.Log = []string{exe, "cluster", "replica"}, replicaEnv(), env.log
	fmt.Fprintf(env.stderr, "cluster: starting 3 NATS nodes, FerretDB and the replicas under %s\n", cfg.Dir)
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		rm()
		return nil, nil, err
	}
	return c, func() { c.Close(); rm() }, nil
}

// replicaEnvVar, set in a replica's environment, makes a test binary run
// as the replica (see TestMain) instead of running tests; the ops binary
// ignores it.
const replicaEnvVar = "ONEBOOK_CLUSTER_REPLICA"

func replicaEnv() []string { return []string{replicaEnvVar + "=1"} }

// runClusterReplica runs one backend replica with the backend's flags, and
// nothing from the environment: the cluster gives every setting. It stops
// cleanly on SIGTERM or Ctrl-C. When its standard input closes, the
// process that started it is gone, and with it the NATS nodes a clean stop
// would need: it exits at once.
func runClusterReplica(ctx context.Context, env *environ, args []string) error {
	cfg, err := config.Load(args, func(string) string { return "" }, env.stderr)
	if err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		fmt.Fprintln(env.stderr, "cluster replica: the cluster is gone (standard input closed); exiting")
		os.Exit(3)
	}()
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("cluster replica starting", "pid", os.Getpid(), "args", strings.Join(args, " "))
	return app.Run(ctx, cfg, log, nil)
}
