package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestMain lets the cluster tests re-execute this test binary as a backend
// replica (ops cluster replica ...), each in a process of its own so that
// it can be killed for real.
func TestMain(m *testing.M) {
	if os.Getenv(replicaEnvVar) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		env := &environ{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
		code := run(ctx, env, os.Args[1:])
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
