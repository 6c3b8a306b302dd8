// Command backend runs onebook: the HTTP API for the mini-program, scanner
// phones and staff, the sealer and the projectors. With no NATS_URL or
// MONGO_URI it starts embedded servers on loopback, so `go run ./backend`
// is all a single machine needs. See README.md for the configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/config"
)

func main() {
	cfg, err := config.FromEnv(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg, log, nil); err != nil {
		log.Error("backend failed", "err", err)
		os.Exit(1)
	}
}
