package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
)

// serveHTTP serves app on ln until ctx is cancelled or serving fails, then
// drains requests in flight for up to drain. It returns the serving error,
// nil after a cancel.
//
// ln is closed and the serving goroutine gone when it returns. Fiber's
// shutdown closes only the listeners its server has begun to serve: a
// cancel that came before the goroutine reached Serve left the port bound
// for the life of the process, and a backend restarted in the same process
// found its own port busy (seen on CI, where a loaded machine schedules
// the goroutine late).
func serveHTTP(ctx context.Context, app *fiber.App, ln net.Listener, drain time.Duration, log *slog.Logger) error {
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		log.Error("HTTP server stopped", "err", err)
		served = nil
	}
	log.Info("shutting down: draining HTTP requests")
	if err := app.ShutdownWithTimeout(drain); err != nil {
		log.Warn("HTTP shutdown", "err", err)
	}
	// Closing an already closed listener is harmless; a Serve that starts
	// after this returns at once on the closed listener.
	if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		log.Warn("HTTP listener close", "err", cerr)
	}
	if served != nil {
		<-served
	}
	return err
}
