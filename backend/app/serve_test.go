package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// TestServeHTTPFreesItsPort stops serving at every moment from before the
// serving goroutine has begun to after it answered, and binds the same
// port again each time: a restart in the same process must find it free.
func TestServeHTTPFreesItsPort(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, after := range []time.Duration{-1, 0, time.Millisecond, 20 * time.Millisecond} {
		for range 20 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
			ctx, cancel := context.WithCancel(context.Background())
			if after < 0 {
				cancel() // before serving began
			}
			done := make(chan error, 1)
			go func() { done <- serveHTTP(ctx, app, ln, time.Second, log) }()
			if after > 0 {
				time.Sleep(after)
				if resp, err := http.Get("http://" + addr + "/"); err == nil {
					resp.Body.Close()
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("cancel after %v: %v", after, err)
			}
			again, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("cancel after %v: the port is still bound: %v", after, err)
			}
			again.Close()
		}
	}
}
