package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// ferretLogLevel is the lowest FerretDB log level passed on to the caller's
// logger. FerretDB logs every connection start/stop and more at Info, which
// would drown onebook's own logs; warnings and errors still come through.
const ferretLogLevel = slog.LevelWarn

// ferretLogHandler filters FerretDB's logs before they reach the caller's
// handler, so that normal runs stay quiet whatever level the caller logs at:
// it drops records below ferretLogLevel, and the multi-line dumps FerretDB
// writes at Warn for every non-ok command response ("Response header: ...",
// "Response message: ..."). Those are errors the client already receives and
// handles (e.g. the driver's endSessions on every Disconnect, which FerretDB
// v1 does not implement, or duplicate-key errors); genuine server problems
// (accept failures, connections dying, SQLite close errors, responses that
// close the connection, logged at Error) still come through.
type ferretLogHandler struct {
	next slog.Handler
}

func (h ferretLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= ferretLogLevel && h.next.Enabled(ctx, l)
}

func (h ferretLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < ferretLogLevel {
		return nil
	}
	if r.Level < slog.LevelError && isResponseDump(r.Message) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h ferretLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ferretLogHandler{next: h.next.WithAttrs(attrs)}
}

func (h ferretLogHandler) WithGroup(name string) slog.Handler {
	return ferretLogHandler{next: h.next.WithGroup(name)}
}

// isResponseDump reports whether msg is one of the per-response dumps of
// FerretDB v1.24's clientconn (conn.logResponse), for itself or a proxy.
func isResponseDump(msg string) bool {
	for _, p := range []string{"Response header: ", "Response message:", "Proxy response header: ", "Proxy response message:"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// MongoOptions configures StartMongo.
type MongoOptions struct {
	// Dir holds the SQLite files, one per database (required). It is created
	// if missing; restarting on the same Dir keeps the data.
	Dir string
	// Host to listen on; empty means 127.0.0.1 so the server stays local.
	Host string
	// Port to listen on; 0 picks a random free port (see URI).
	Port int
	// Logger receives FerretDB's warnings and errors and this package's
	// start/stop lines; nil means slog.Default().
	Logger *slog.Logger
}

// MongoServer is a running embedded FerretDB (MongoDB wire protocol) backed
// by SQLite.
type MongoServer struct {
	uri     string
	log     *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{} // closed when FerretDB's Run has returned
	stopped sync.Once     // logs "stopped" once however often Shutdown is called
}

// StartMongo starts an embedded FerretDB v1 with the SQLite backend storing
// data in opts.Dir. It returns only after the TCP port accepts connections,
// or an error if that does not happen before ctx ends (or within 30s if ctx
// has no deadline). FerretDB telemetry is off: the embedded build disables
// and locks it.
func StartMongo(ctx context.Context, opts MongoOptions) (*MongoServer, error) {
	dir, err := mongoDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	host := opts.Host
	if host == "" {
		host = defaultHost
	}
	port := opts.Port
	if port < 0 {
		port = 0
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	logger := loggerOrDefault(opts.Logger).With(slog.String("component", "ferretdb"))

	// FerretDB wants a "file:" URI naming the directory with a trailing slash.
	sqliteURL := (&url.URL{Scheme: "file", Path: dir + "/"}).String()

	// FerretDB v1.24's New leaks its SQLite backend when it cannot bind the
	// listener, and that backend's finalizer later panics, crashing the whole
	// process at some garbage collection. So check that the address can be
	// bound first and only hand FerretDB one that can. (A fixed port taken by
	// another process between this probe and New would still hit that bug;
	// port 0 cannot.)
	probe, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start ferretdb: listen on %s: %w", addr, err)
	}
	if err := probe.Close(); err != nil {
		return nil, fmt.Errorf("start ferretdb: release probe listener on %s: %w", addr, err)
	}

	fdb, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
		Logger:    slog.New(ferretLogHandler{next: logger.Handler()}),
	})
	if err != nil {
		return nil, fmt.Errorf("start ferretdb on %s in %s: %w", addr, dir, err)
	}

	// Run must outlive the start-up ctx, so it gets its own cancellation
	// (keeping ctx's values for logging) that only Shutdown triggers.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	m := &MongoServer{
		uri:    fdb.MongoDBURI(), // safe before Run: New has already bound the listener
		log:    logger,
		cancel: cancelRun,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		if err := fdb.Run(runCtx); err != nil {
			logger.Error("ferretdb stopped with error", slog.Any("error", err))
		}
	}()

	if err := m.waitReady(ctx); err != nil {
		cancelRun()
		<-m.done
		return nil, err
	}
	logger.Info("embedded ferretdb started", slog.String("uri", m.uri), slog.String("dir", dir))
	return m, nil
}

// mongoDir resolves the data directory dir, refuses a path FerretDB
// would misplace, and creates it.
func mongoDir(dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("start ferretdb: %w", errNoDir())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("start ferretdb: resolve dir %q: %w", dir, err)
	}
	// FerretDB wants a "file:" URI naming a directory with a trailing slash.
	// It decodes that URI and hands SQLite the path unescaped, so '#' and '?'
	// silently put the data somewhere else and '%' fails at first write;
	// refuse them rather than lose data.
	if strings.ContainsAny(abs, "#?%") {
		return "", fmt.Errorf("start ferretdb: dir %q: FerretDB cannot use a path containing '#', '?' or '%%'", abs)
	}
	// FerretDB refuses a SQLite directory that does not exist yet.
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return "", fmt.Errorf("start ferretdb: create dir: %w", err)
	}
	return abs, nil
}

// waitReady dials the listening address until a TCP connection succeeds.
func (m *MongoServer) waitReady(ctx context.Context) error {
	ctx, cancel := startContext(ctx)
	defer cancel()

	u, err := url.Parse(m.uri)
	if err != nil {
		return fmt.Errorf("start ferretdb: parse own URI %q: %w", m.uri, err)
	}
	var d net.Dialer
	for {
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", u.Host)
		dcancel()
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case <-m.done:
			return fmt.Errorf("start ferretdb on %s: server stopped before accepting connections", u.Host)
		case <-ctx.Done():
			return fmt.Errorf("%w (last dial error: %v)", ctxErr(ctx, "start ferretdb"), err)
		case <-time.After(pollInterval):
		}
	}
}

// URI returns the mongodb:// URI for this server (mongodb://HOST:PORT/, with
// the actual port when a random one was requested), usable as-is by
// go.mongodb.org/mongo-driver/v2.
func (m *MongoServer) URI() string {
	return m.uri
}

// Shutdown stops FerretDB and waits until it has closed its listener, client
// connections and SQLite files, so that the same Dir can be reopened
// afterwards. Clients still connected are given a few seconds by FerretDB to
// finish, so disconnect them first for a fast shutdown. It returns ctx's
// error if ctx ends first; the server keeps stopping in the background.
// Calling it twice is safe.
func (m *MongoServer) Shutdown(ctx context.Context) error {
	m.cancel()
	select {
	case <-m.done:
		m.stopped.Do(func() { m.log.Info("embedded ferretdb stopped") })
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown ferretdb: %w", context.Cause(ctx))
	}
}
