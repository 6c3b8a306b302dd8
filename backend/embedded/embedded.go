// Package embedded starts, inside the onebook process, the two servers onebook
// needs when it runs on a single machine: a NATS server with JetStream (the
// event log) and FerretDB on SQLite (a MongoDB-wire-compatible store for
// projections).
//
// Production points the same client code at a real NATS cluster and a real
// MongoDB replica set; this package exists so that development, tests and
// single-machine installs need no external services (no MongoDB server can be
// installed on these machines).
//
// Both Start functions return only once the server accepts connections, so a
// caller can connect immediately. The ctx given to a Start function bounds
// start-up only: the server keeps running until its Shutdown method is called.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// defaultHost is loopback so that an embedded server is never reachable from
// other machines unless the caller asks for it explicitly.
const defaultHost = "127.0.0.1"

// defaultStartTimeout bounds start-up when the caller's ctx has no deadline,
// so that a server that never becomes ready cannot hang the process.
const defaultStartTimeout = 30 * time.Second

// pollInterval is how often start-up readiness is re-checked.
const pollInterval = 20 * time.Millisecond

// startContext returns ctx with a deadline, adding defaultStartTimeout if ctx
// has none.
func startContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, defaultStartTimeout)
}

// loggerOrDefault returns l, or slog.Default() when l is nil.
func loggerOrDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// errNoDir is returned when a Start function is called without a data
// directory: both servers would otherwise fall back to a temporary or
// relative location and data would silently be lost or misplaced.
func errNoDir() error { return errors.New("data directory (Dir) is required") }

// ctxErr describes why start-up was abandoned.
func ctxErr(ctx context.Context, what string) error {
	return fmt.Errorf("%s: not ready before start-up deadline: %w", what, context.Cause(ctx))
}
