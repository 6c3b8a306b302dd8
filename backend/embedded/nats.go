package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSOptions configures StartNATS.
type NATSOptions struct {
	// Dir is the JetStream storage directory (required). It is created if
	// missing; restarting on the same Dir recovers streams and messages.
	Dir string
	// Host to listen on; empty means 127.0.0.1 so the server stays local.
	Host string
	// Port to listen on; 0 or -1 picks a random free port (see ClientURL).
	Port int
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// ServerName names the server; empty lets nats-server use its random ID.
	ServerName string
	// SyncAlways makes JetStream fsync every write before acknowledging it.
	// Without it the server syncs every SyncInterval (2 minutes by
	// default), so an operating-system crash or power loss can lose events
	// that were acknowledged. A single embedded server has no replicas to
	// fall back on, so onebook turns this on by default.
	SyncAlways bool
	// SyncInterval, if not zero and SyncAlways is off, overrides the
	// server's periodic sync interval.
	SyncInterval time.Duration
	// Accounts, if any, are the server's accounts, each with JetStream
	// and nkey users (a deployment with a ledger per province: one per
	// cell). A client must then authenticate as one of their users;
	// without Accounts the server has only the global account and
	// takes clients without credentials, as a single ledger needs.
	Accounts []Account
}

// NATSServer is a running embedded nats-server with JetStream enabled.
type NATSServer struct {
	srv     *server.Server
	log     *slog.Logger
	stopped sync.Once // logs "stopped" once however often Shutdown is called
}

// StartNATS starts an embedded nats-server with JetStream and file storage
// under opts.Dir. It returns only after the server accepts client
// connections, or an error if that does not happen before ctx ends (or within
// 30s if ctx has no deadline). The server does not install signal handlers:
// the embedding process owns its own lifecycle.
func StartNATS(ctx context.Context, opts NATSOptions) (*NATSServer, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("start nats: %w", errNoDir())
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("start nats: resolve dir %q: %w", opts.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("start nats: create dir: %w", err)
	}
	host := opts.Host
	if host == "" {
		host = defaultHost
	}
	port := opts.Port
	if port == 0 {
		// nats-server reads 0 as "default port 4222"; we promise a random one.
		port = server.RANDOM_PORT
	}
	logger := loggerOrDefault(opts.Logger).With(slog.String("component", "nats"))

	so := &server.Options{}
	if len(opts.Accounts) > 0 {
		if so, err = AccountOptions(opts.Accounts); err != nil {
			return nil, fmt.Errorf("start nats: %w", err)
		}
	}
	so.ServerName, so.Host, so.Port, so.JetStream, so.StoreDir, so.NoSigs = opts.ServerName, host, port, true, dir, true
	so.SyncAlways, so.SyncInterval = opts.SyncAlways, opts.SyncInterval
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("start nats: configure server: %w", err)
	}
	nl := &natsLogger{log: logger, fatal: make(chan string, 1)}
	srv.SetLoggerV2(nl, false, false, false)

	ctx, cancel := startContext(ctx)
	defer cancel()

	// Start can block on JetStream recovery of a large store, so run it
	// aside and wait under ctx instead.
	go srv.Start()
	for !srv.ReadyForConnections(pollInterval) {
		select {
		case msg := <-nl.fatal:
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("start nats on %s:%d in %s: %s", host, opts.Port, dir, msg)
		case <-ctx.Done():
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, ctxErr(ctx, "start nats")
		default:
		}
	}

	s := &NATSServer{srv: srv, log: logger}
	logger.Info("embedded nats started", slog.String("url", s.ClientURL()), slog.String("dir", dir))
	return s, nil
}

// ClientURL returns the nats:// URL clients connect to, with the actual port
// when a random one was requested.
func (s *NATSServer) ClientURL() string {
	return s.srv.ClientURL()
}

// Shutdown stops the server and returns once it is fully down, so that the
// same Dir can be reopened immediately afterwards. Calling it twice is safe.
func (s *NATSServer) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.stopped.Do(func() { s.log.Info("embedded nats stopped") })
}

// Server exposes the underlying nats-server, for fault-injection tests (e.g.
// shutting JetStream down underneath a running client). Production code
// should not need it.
func (s *NATSServer) Server() *server.Server {
	return s.srv
}

// natsLogger adapts nats-server's Logger interface to slog. Notices (the
// start-up banner, client connect chatter) go to Debug to keep normal runs
// quiet. Fatal messages are logged at Error and, instead of exiting the
// process as nats-server's own logger does, the first one is handed to
// StartNATS so it can fail with the real reason rather than a timeout.
type natsLogger struct {
	log   *slog.Logger
	fatal chan string
	once  sync.Once
}

func (l *natsLogger) Noticef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

func (l *natsLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}

func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg, slog.Bool("fatal", true))
	l.once.Do(func() { l.fatal <- msg })
}

func (l *natsLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
}

func (l *natsLogger) Debugf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

func (l *natsLogger) Tracef(format string, v ...any) {
	l.log.Log(context.Background(), slog.LevelDebug-4, fmt.Sprintf(format, v...))
}
