package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/exports"
	"github.com/onebook/onebook/events"
)

// memLedger is an in-memory tree with real RFC 6962 proofs.
type memLedger struct {
	raws   [][]byte
	hashes []tlog.Hash // stored hashes, tlog layout
}

func newMemLedger(t testing.TB, n int) *memLedger {
	m := &memLedger{}
	for i := 0; i < n; i++ {
		e := events.Event{ID: events.NewID(), Type: "pass.scanned", Version: 2, Aggregate: events.Aggregate{Kind: "gate", ID: "g1"},
			Region: "110105001001", Actor: events.Actor{Role: "gate_operator", ID: "op1"}, Time: time.Date(2026, 2, 1, 0, 0, i, 0, time.UTC),
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
		raw, err := e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		hs, err := tlog.StoredHashes(int64(i), raw, m)
		if err != nil {
			t.Fatal(err)
		}
		m.raws = append(m.raws, raw)
		m.hashes = append(m.hashes, hs...)
	}
	return m
}

func (m *memLedger) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memLedger) Latest(ctx context.Context) ([]byte, uint64, tlog.Hash, error) {
	n := int64(len(m.raws))
	h, err := tlog.TreeHash(n, m)
	return []byte(fmt.Sprintf("test/ledger\n%d\n%s\n\n— test sig\n", n, base64.StdEncoding.EncodeToString(h[:]))), uint64(n), h, err
}

func (m *memLedger) ProveInclusion(ctx context.Context, index, size uint64) (tlog.Hash, tlog.RecordProof, error) {
	if size > uint64(len(m.raws)) {
		return tlog.Hash{}, nil, events.Invalid("size", "beyond the latest checkpoint")
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), m)
	return tlog.RecordHash(m.raws[index]), p, err
}

func (m *memLedger) ProveConsistency(ctx context.Context, o, n uint64) (tlog.TreeProof, error) {
	if n > uint64(len(m.raws)) {
		return nil, events.Invalid("new", "beyond the latest checkpoint")
	}
	return tlog.ProveTree(int64(n), int64(o), m)
}

func (m *memLedger) VerifierKey() string { return "test/ledger+01234567+AQID" }

func (m *memLedger) Size(ctx context.Context) (uint64, error) { return uint64(len(m.raws)), nil }
func (m *memLedger) Read(ctx context.Context, seq uint64) (events.Recorded, error) {
	if seq == 0 || seq > uint64(len(m.raws)) {
		return events.Recorded{}, events.Errorf(events.CodeNotFound, "no event at sequence %d", seq)
	}
	return events.Recorded{Seq: seq, Raw: m.raws[seq-1]}, nil
}
func (m *memLedger) Scan(ctx context.Context, from, to uint64, fn func(events.Recorded) error) error {
	return nil
}

type fixedHealth struct{ st HealthStatus }

func (f fixedHealth) Health(context.Context) HealthStatus { return f.st }

func newTestServer(t *testing.T, ready bool) (*httptest.Server, *memLedger) {
	led := newMemLedger(t, 37)
	app := New(Config{Ledger: led, Events: led, Health: fixedHealth{HealthStatus{Ready: ready}}, Metrics: NewMetrics()})
	srv := httptest.NewServer(adaptorHandler(app))
	t.Cleanup(srv.Close)
	return srv, led
}

// getWithHeader asks app for path with one request header, if value is
// not empty.
func getWithHeader(t *testing.T, app *fiber.App, path, header, value string) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if value != "" {
		req.Header.Set(header, value)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestInclusionAndConsistencyProofsVerify(t *testing.T) {
	srv, led := newTestServer(t, true)
	for _, tc := range []struct{ index, size uint64 }{{0, 1}, {0, 37}, {5, 6}, {36, 37}, {17, 20}} {
		code, _, body := get(t, fmt.Sprintf("%s/ledger/proof/inclusion?index=%d&size=%d", srv.URL, tc.index, tc.size))
		if code != 200 {
			t.Fatalf("%+v: %d %s", tc, code, body)
		}
		var p InclusionProof
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		root, _ := tlog.TreeHash(int64(tc.size), led)
		if err := tlog.CheckRecord(unb64(t, p.Proof), int64(tc.size), root, int64(tc.index), unb64(t, []string{p.LeafHash})[0]); err != nil {
			t.Fatalf("%+v: proof does not verify: %v", tc, err)
		}
	}
	code, _, body := get(t, srv.URL+"/ledger/proof/consistency?old=9&new=37")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var cp ConsistencyProof
	json.Unmarshal(body, &cp)
	oldRoot, _ := tlog.TreeHash(9, led)
	newRoot, _ := tlog.TreeHash(37, led)
	if err := tlog.CheckTree(unb64(t, cp.Proof), 37, newRoot, 9, oldRoot); err != nil {
		t.Fatalf("consistency proof does not verify: %v", err)
	}
}

func TestEventBytesHashToLeaf(t *testing.T) {
	srv, led := newTestServer(t, true)
	code, hdr, body := get(t, srv.URL+"/ledger/events/4")
	if code != 200 || string(body) != string(led.raws[4]) {
		t.Fatalf("%d %s", code, body)
	}
	h := tlog.RecordHash(body)
	if hdr.Get("X-Onebook-Leaf-Hash") != base64.StdEncoding.EncodeToString(h[:]) {
		t.Fatal("leaf hash header does not match body")
	}
}

func TestBadInputAnswers4xxJSON(t *testing.T) {
	srv, _ := newTestServer(t, true)
	tests := []struct {
		path  string
		code  int
		field string
	}{
		{"/ledger/proof/inclusion", 400, "index"},
		{"/ledger/proof/inclusion?index=-1", 400, "index"},
		{"/ledger/proof/inclusion?index=abc&size=3", 400, "index"},
		{"/ledger/proof/inclusion?index=5&size=5", 400, "index"},
		{"/ledger/proof/inclusion?index=1&size=99999", 400, "size"},
		{"/ledger/proof/inclusion?index=1&size=18446744073709551616", 400, "size"},
		{"/ledger/proof/consistency?old=10&new=3", 400, "old"},
		{"/ledger/proof/consistency", 400, "old"},
		{"/ledger/events/x", 400, "index"},
		{"/ledger/events/1000", 404, ""},
		{"/nope", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, hdr, body := get(t, srv.URL+tt.path)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %s", code, tt.code, body)
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Fatalf("content type %q", hdr.Get("Content-Type"))
			}
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" || e.Error.Field != tt.field {
				t.Fatalf("error body %s (want field %q)", body, tt.field)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	for _, ready := range []bool{true, false} {
		srv, _ := newTestServer(t, ready)
		code, _, _ := get(t, srv.URL+"/readyz")
		if want := map[bool]int{true: 200, false: 503}[ready]; code != want {
			t.Fatalf("ready=%v: %d", ready, code)
		}
		if code, _, _ := get(t, srv.URL+"/healthz"); code != 200 {
			t.Fatalf("healthz %d", code)
		}
	}
}

// TestMetricsNotPublic: on the public listener /metrics answers 404 like
// an unknown route unless a token is configured and presented; the
// listener of its own (Metrics.Handler) serves it.
func TestMetricsNotPublic(t *testing.T) {
	const token = "s3cret-metrics-token"
	tests := []struct {
		name       string
		configured string
		auth       string
		want       int
	}{
		{"no token configured", "", "", 404},
		{"no token configured, one given", "", "Bearer " + token, 404},
		{"no token configured, empty one given", "", "Bearer ", 404},
		{"token configured, none given", token, "", 404},
		{"wrong token", token, "Bearer nope", 404},
		{"token not as bearer", token, token, 404},
		{"token given", token, "Bearer " + token, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			led := newMemLedger(t, 1)
			app := New(Config{Ledger: led, Events: led, Health: fixedHealth{}, Metrics: NewMetrics(), MetricsToken: tt.configured})
			code, _, body := getWithHeader(t, app, "/metrics", "Authorization", tt.auth)
			if code != tt.want {
				t.Fatalf("%d %s", code, body)
			}
			if tt.want == 404 && (!strings.Contains(string(body), `"not_found"`) || strings.Contains(string(body), "onebook_http")) {
				t.Fatalf("404 body %s", body)
			}
		})
	}

	m := NewMetrics()
	led := newMemLedger(t, 1)
	pub := httptest.NewServer(adaptorHandler(New(Config{Ledger: led, Events: led, Health: fixedHealth{}, Metrics: m})))
	t.Cleanup(pub.Close)
	priv := httptest.NewServer(m.Handler())
	t.Cleanup(priv.Close)
	get(t, pub.URL+"/ledger/key")
	code, _, body := get(t, priv.URL+"/metrics")
	if code != 200 || !strings.Contains(string(body), `onebook_http_requests_total{method="GET",route="/ledger/key",status="200"} 1`) {
		t.Fatalf("metrics listener: %d %s", code, body)
	}
	if code, _, _ := get(t, priv.URL+"/ledger/key"); code != 404 {
		t.Fatalf("the metrics listener serves more than /metrics: %d", code)
	}
}

// stalledLedger is a ledger whose latest checkpoint never comes: it waits
// for the request's context like a JetStream request to a stalled server.
type stalledLedger struct{ *memLedger }

func (stalledLedger) Latest(ctx context.Context) ([]byte, uint64, tlog.Hash, error) {
	<-ctx.Done()
	return nil, 0, tlog.Hash{}, fmt.Errorf("read the latest checkpoint: %w", ctx.Err())
}

// TestRequestDeadline: a request whose dependency stalls answers 503 with
// Retry-After and the JSON error once the configured deadline passes, not
// when the client gives up.
func TestRequestDeadline(t *testing.T) {
	const deadline = 100 * time.Millisecond
	led := newMemLedger(t, 1)
	app := New(Config{Ledger: stalledLedger{led}, Events: led, Health: fixedHealth{}, Metrics: NewMetrics(), RequestTimeout: deadline})
	start := time.Now()
	resp, err := app.Test(httptest.NewRequest("GET", "/ledger/checkpoint", nil), int((deadline + 5*time.Second).Milliseconds()))
	if err != nil {
		t.Fatal(err) // app.Test gave up: the request hung
	}
	took := time.Since(start)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e errorBody
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || json.Unmarshal(body, &e) != nil || e.Error.Code != events.CodeUnavailable {
		t.Fatalf("%d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if took < deadline || took > deadline+2*time.Second {
		t.Fatalf("answered after %s, deadline %s", took, deadline)
	}
	if strings.Contains(string(body), "context deadline exceeded") {
		t.Fatalf("the answer shows the internal error: %s", body)
	}
}

// deadlineExporter reports the deadline an export runs under.
type deadlineExporter struct{ left chan time.Duration }

func (deadlineExporter) Views(auth.Principal) ([]exports.View, error) {
	return []exports.View{{Name: "scans"}}, nil
}

func (x deadlineExporter) Export(ctx context.Context, _ auth.Principal, _ string, _ exports.Query, _, _, _ string) (exports.Manifest, error) {
	d, _ := ctx.Deadline() // none: zero, so the time left is negative
	x.left <- time.Until(d)
	return exports.Manifest{}, events.Errorf(events.CodeNotFound, "nothing to export")
}

// TestExportDeadline: an export runs under the export deadline, every
// other request under the request deadline.
func TestExportDeadline(t *testing.T) {
	sess, err := auth.NewSessions(bytes.Repeat([]byte{7}, 32), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := sess.Issue(auth.Principal{Subject: "s-gov", Role: auth.GovAnalyst, Scope: "110105", OpenID: "o-gov"})
	led := newMemLedger(t, 1)
	x := deadlineExporter{make(chan time.Duration, 1)}
	app := New(Config{Ledger: led, Events: led, Health: fixedHealth{}, Sessions: sess, Exports: x, RequestTimeout: time.Second, ExportTimeout: time.Hour})
	if code, _, body := call(t, app, "GET", "/exports/scans", tok, nil); code != 404 {
		t.Fatalf("export: %d %s", code, body)
	}
	if left := <-x.left; left <= time.Second || left > time.Hour {
		t.Fatalf("an export runs with %s left, want the export deadline of 1h", left)
	}
}

// TestOpenAPIMatchesRoutes checks both ways: every documented route is
// mounted and every mounted route is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+fiberPath(path)] = true
		}
	}
	led := newMemLedger(t, 1)
	app := New(Config{Ledger: led, Events: led, Health: fixedHealth{}, Metrics: NewMetrics()})
	mounted := map[string]bool{}
	for _, r := range app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Path == "/" {
			continue // HEAD mirrors GET; "/" is the catch-all 404 middleware
		}
		mounted[r.Method+" "+r.Path] = true
	}
	var missing, undocumented []string
	for k := range documented {
		if !mounted[k] {
			missing = append(missing, k)
		}
	}
	for k := range mounted {
		if !documented[k] {
			undocumented = append(undocumented, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(undocumented)
	if len(missing)+len(undocumented) > 0 {
		t.Fatalf("documented but not mounted: %v\nmounted but not documented: %v", missing, undocumented)
	}
}

// fiberPath turns /a/{b} into /a/:b, and the tlog-tiles path, which
// spans several segments, into Fiber's wildcard.
func fiberPath(p string) string {
	if p == "/tile/{path}" {
		return "/tile/*"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '{':
			b.WriteByte(':')
		case '}':
		default:
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

func unb64(t *testing.T, ss []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != len(tlog.Hash{}) {
			t.Fatalf("bad hash %q", s)
		}
		copy(out[i][:], b)
	}
	return out
}
