package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// callTimeout bounds every client call in these tests, so that a wedged
// server fails the test instead of hanging it.
const callTimeout = 20 * time.Second

// testLogger writes to stderr (shown by go test only on failure or with -v)
// rather than t.Log, because server goroutines may log after a test ends.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// tryNATS and tryMongo start a server, stop it again if that worked, and
// return the start error; they let tables cover both servers.
func tryNATS(ctx context.Context, opts NATSOptions) error {
	opts.Logger = testLogger()
	s, err := StartNATS(ctx, opts)
	if err == nil {
		s.Shutdown()
	}
	return err
}

func tryMongo(ctx context.Context, opts MongoOptions) error {
	opts.Logger = testLogger()
	m, err := StartMongo(ctx, opts)
	if err == nil {
		_ = m.Shutdown(ctx)
	}
	return err
}

func TestStartRejectsBadDir(t *testing.T) {
	tests := []struct {
		name    string
		subdir  string // under a temp dir; empty means no Dir at all
		start   func(ctx context.Context, dir string) error
		wantErr string
	}{
		{"nats no dir", "", func(ctx context.Context, dir string) error { return tryNATS(ctx, NATSOptions{Dir: dir}) }, "Dir"},
		{"mongo no dir", "", func(ctx context.Context, dir string) error { return tryMongo(ctx, MongoOptions{Dir: dir}) }, "Dir"},
		// FerretDB would put the SQLite files elsewhere or fail at first write.
		{"mongo hash", "a#b", func(ctx context.Context, dir string) error { return tryMongo(ctx, MongoOptions{Dir: dir}) }, "cannot use a path"},
		{"mongo question mark", "a?b", func(ctx context.Context, dir string) error { return tryMongo(ctx, MongoOptions{Dir: dir}) }, "cannot use a path"},
		{"mongo percent", "a%20b", func(ctx context.Context, dir string) error { return tryMongo(ctx, MongoOptions{Dir: dir}) }, "cannot use a path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.subdir
			if dir != "" {
				dir = filepath.Join(t.TempDir(), dir)
			}
			err := tt.start(callCtx(t), dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("start with Dir %q: err = %v, want an error containing %q", dir, err, tt.wantErr)
			}
		})
	}
}

// TestStartFailsOnBusyPort checks that a server that cannot listen makes the
// Start function fail promptly with the reason, not hang or time out.
func TestStartFailsOnBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name  string
		start func(context.Context, string) error
	}{
		{"nats", func(ctx context.Context, dir string) error { return tryNATS(ctx, NATSOptions{Dir: dir, Port: port}) }},
		{"mongo", func(ctx context.Context, dir string) error { return tryMongo(ctx, MongoOptions{Dir: dir, Port: port}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := callCtx(t)
			err := tt.start(ctx, t.TempDir())
			if err == nil {
				t.Fatalf("start on busy port %d succeeded", port)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("start on busy port timed out instead of reporting the cause: %v", err)
			}
			t.Logf("expected error: %v", err)
			// A server object leaked by the failed start must not blow up
			// when collected (FerretDB's New leaks one with a panicking
			// finalizer if it gets as far as binding).
			runtime.GC()
			runtime.GC()
			time.Sleep(50 * time.Millisecond)
		})
	}
}

func startNATS(t *testing.T, dir string) *NATSServer {
	t.Helper()
	s, err := StartNATS(callCtx(t), NATSOptions{Dir: dir, Logger: testLogger(), ServerName: "onebook-test"})
	if err != nil {
		t.Fatalf("StartNATS: %v", err)
	}
	return s
}

func TestNATSJetStreamSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats") // not created yet: StartNATS must create it
	const stream = "EVENTS"

	msgs := []struct {
		subject string
		data    string
	}{
		{"events.book.created", `{"id":1}`},
		{"events.book.renamed", `{"id":1,"name":"x"}`},
		{"events.entry.added", `{"book":1,"amount":42}`},
		{"events.book.created", `{"id":2}`},
	}

	s := startNATS(t, dir)
	u, err := url.Parse(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if host, port, _ := net.SplitHostPort(u.Host); host != "127.0.0.1" || port == "0" || port == "4222" {
		t.Errorf("ClientURL() = %q, want loopback with a random port", s.ClientURL())
	}

	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.CreateStream(callCtx(t), jetstream.StreamConfig{
		Name:     stream,
		Subjects: []string{"events.>"},
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	for i, m := range msgs {
		ack, err := js.Publish(callCtx(t), m.subject, []byte(m.data))
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Sequence != uint64(i+1) {
			t.Fatalf("publish %d: sequence %d, want %d", i, ack.Sequence, i+1)
		}
	}

	// Read back once through a consumer, as the application will.
	cons, err := str.OrderedConsumer(callCtx(t), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(len(msgs), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got int
	for m := range batch.Messages() {
		if want := msgs[got]; m.Subject() != want.subject || string(m.Data()) != want.data {
			t.Errorf("message %d = %s %s, want %s %s", got, m.Subject(), m.Data(), want.subject, want.data)
		}
		got++
	}
	if err := batch.Error(); err != nil {
		t.Fatal(err)
	}
	if got != len(msgs) {
		t.Fatalf("fetched %d messages, want %d", got, len(msgs))
	}

	nc.Close()
	s.Shutdown()
	s.Shutdown() // second call must be harmless

	// Restart on the same directory: stream and messages must be recovered.
	s = startNATS(t, dir)
	defer s.Shutdown()
	nc, err = nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	defer nc.Close()
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err = js.Stream(callCtx(t), stream)
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	info, err := str.Info(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(msgs)) || info.Config.Storage != jetstream.FileStorage {
		t.Fatalf("after restart: %d msgs, storage %v; want %d, file", info.State.Msgs, info.Config.Storage, len(msgs))
	}
	for i, want := range msgs {
		m, err := str.GetMsg(callCtx(t), uint64(i+1))
		if err != nil {
			t.Fatalf("get seq %d after restart: %v", i+1, err)
		}
		if m.Subject != want.subject || string(m.Data) != want.data {
			t.Errorf("seq %d after restart = %s %s, want %s %s", i+1, m.Subject, m.Data, want.subject, want.data)
		}
	}
}

type doc struct {
	ID    int    `bson:"_id"`
	Name  string `bson:"name"`
	Value int    `bson:"value"`
}

func startMongo(t *testing.T, dir string) (*MongoServer, *mongo.Client) {
	t.Helper()
	m, err := StartMongo(callCtx(t), MongoOptions{Dir: dir, Logger: testLogger()})
	if err != nil {
		t.Fatalf("StartMongo: %v", err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(m.URI()).SetTimeout(callTimeout))
	if err != nil {
		_ = m.Shutdown(callCtx(t))
		t.Fatalf("connect %s: %v", m.URI(), err)
	}
	return m, client
}

// stopMongo disconnects the client first: FerretDB otherwise waits a few
// seconds for connected clients before it stops.
func stopMongo(t *testing.T, m *MongoServer, client *mongo.Client) {
	t.Helper()
	if err := client.Disconnect(callCtx(t)); err != nil {
		t.Errorf("disconnect: %v", err)
	}
	if err := m.Shutdown(callCtx(t)); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func findByID(t *testing.T, coll *mongo.Collection, id int) (doc, bool) {
	t.Helper()
	var d doc
	err := coll.FindOne(callCtx(t), bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return doc{}, false
	}
	if err != nil {
		t.Fatalf("find _id %d: %v", id, err)
	}
	return d, true
}

func count(t *testing.T, coll *mongo.Collection) int64 {
	t.Helper()
	n, err := coll.CountDocuments(callCtx(t), bson.D{})
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func TestMongoSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ferret") // not created yet: StartMongo must create it
	const n = 1000

	m, client := startMongo(t, dir)
	u, err := url.Parse(m.URI())
	if err != nil {
		t.Fatal(err)
	}
	if host, port, _ := net.SplitHostPort(u.Host); u.Scheme != "mongodb" || host != "127.0.0.1" || port == "0" {
		t.Errorf("URI() = %q, want mongodb://127.0.0.1:PORT/", m.URI())
	}
	coll := client.Database("onebook").Collection("docs")

	docs := make([]any, n)
	for i := range docs {
		docs[i] = doc{ID: i, Name: fmt.Sprintf("doc-%d", i), Value: i * 10}
	}
	start := time.Now()
	res, err := coll.InsertMany(callCtx(t), docs)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("insertMany: %v", err)
	}
	t.Logf("insertMany of %d documents took %v", n, elapsed)
	if len(res.InsertedIDs) != n {
		t.Fatalf("insertMany inserted %d, want %d", len(res.InsertedIDs), n)
	}

	for _, tt := range []struct {
		id    int
		found bool
	}{{0, true}, {1, true}, {500, true}, {n - 1, true}, {n, false}, {-1, false}} {
		d, found := findByID(t, coll, tt.id)
		if found != tt.found {
			t.Errorf("find _id %d: found = %v, want %v", tt.id, found, tt.found)
			continue
		}
		if want := (doc{ID: tt.id, Name: fmt.Sprintf("doc-%d", tt.id), Value: tt.id * 10}); found && d != want {
			t.Errorf("find _id %d = %+v, want %+v", tt.id, d, want)
		}
	}

	// Bulk replace by _id with upsert: existing ids are replaced, new ones
	// inserted, as projections will do.
	replaced := []doc{
		{ID: 0, Name: "zero", Value: -1},
		{ID: 999, Name: "last", Value: -999},
		{ID: n, Name: "new-1000", Value: 1},
		{ID: n + 1, Name: "new-1001", Value: 2},
	}
	models := make([]mongo.WriteModel, len(replaced))
	for i, d := range replaced {
		models[i] = mongo.NewReplaceOneModel().
			SetFilter(bson.D{{Key: "_id", Value: d.ID}}).
			SetReplacement(d).
			SetUpsert(true)
	}
	start = time.Now()
	bw, err := coll.BulkWrite(callCtx(t), models)
	if err != nil {
		t.Fatalf("bulk replace: %v", err)
	}
	t.Logf("bulk ReplaceOne upsert of %d documents took %v", len(models), time.Since(start))
	if bw.MatchedCount != 2 || bw.UpsertedCount != 2 {
		t.Fatalf("bulk replace: matched %d, upserted %d; want 2, 2", bw.MatchedCount, bw.UpsertedCount)
	}
	if got := count(t, coll); got != n+2 {
		t.Fatalf("count after upsert = %d, want %d", got, n+2)
	}

	stopMongo(t, m, client)
	if err := m.Shutdown(callCtx(t)); err != nil { // second call must be harmless
		t.Errorf("second shutdown: %v", err)
	}

	// Restart on the same directory: all data must be there.
	m, client = startMongo(t, dir)
	defer stopMongo(t, m, client)
	coll = client.Database("onebook").Collection("docs")
	if got := count(t, coll); got != n+2 {
		t.Fatalf("count after restart = %d, want %d", got, n+2)
	}
	for _, want := range append(replaced, doc{ID: 1, Name: "doc-1", Value: 10}, doc{ID: 998, Name: "doc-998", Value: 9980}) {
		d, found := findByID(t, coll, want.ID)
		if !found || d != want {
			t.Errorf("after restart, _id %d = %+v (found %v), want %+v", want.ID, d, found, want)
		}
	}
}

// TestFerretLogFilter pins down which FerretDB log records reach the
// caller's logger.
func TestFerretLogFilter(t *testing.T) {
	tests := []struct {
		level slog.Level
		msg   string
		kept  bool
	}{
		{slog.LevelDebug, "Request header: ...", false},
		{slog.LevelInfo, "Connection started", false},
		{slog.LevelWarn, "Response header: length: 121", false},
		{slog.LevelWarn, "Response message:\n{...}", false},
		{slog.LevelWarn, "Proxy response header: length: 121", false},
		{slog.LevelWarn, "Connection stopped", true},
		{slog.LevelWarn, "Failed to accept connection", true},
		{slog.LevelError, "Response header: length: 121", true}, // response that closes the connection
		{slog.LevelError, "something broke", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v %s", tt.level, tt.msg), func(t *testing.T) {
			var buf strings.Builder
			l := slog.New(ferretLogHandler{next: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
			l.With("conn", "x").Log(t.Context(), tt.level, tt.msg)
			if kept := buf.Len() > 0; kept != tt.kept {
				t.Errorf("kept = %v, want %v (output %q)", kept, tt.kept, buf.String())
			}
		})
	}
}
