package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
)

// withKey sends a request with an Idempotency-Key.
func (c client) withKey(method, path, key string, body any) (int, []byte, http.Header) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// TestRetriesNeverDuplicate: a hospital files a card and the answer is
// lost (the client hangs up right after sending); it retries with the same
// Idempotency-Key and gets the first answer — one card in the ledger, one
// count for early warning. The same key with another card is 422.
func TestRetriesNeverDuplicate(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	admin := staffClient(t, b, auth.Admin, "11")
	hosp := registerHospital(t, admin, "朝阳重试医院", districtA, true)
	reporter := orgStaffClient(t, b, auth.HospitalReporter, hosp)
	body := fileBody(31, card("influenza", districtA))
	const key = "file-31-0b8e2c"

	// The first attempt: sent whole, then the connection is cut before
	// the answer is read.
	raw, _ := json.Marshal(body)
	before := ledgerSize(t, b)
	conn, err := net.Dial("tcp", b.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /cases HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s",
		b.httpAddr, reporter.token, key, len(raw), raw)
	conn.Close()
	// Under load the server may read the first attempt only after a quick
	// retry: wait until it has appended, so that the retry is a retry.
	for deadline := time.Now().Add(20 * time.Second); ledgerSize(t, b) == before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt was never recorded")
		}
	}

	// The retry: the first answer once the first attempt has finished.
	var (
		code int
		out  []byte
		hdr  http.Header
	)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, out, hdr = reporter.withKey("POST", "/cases", key, body)
		if code != 409 || time.Now().After(deadline) {
			break
		}
	}
	if code != 201 || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s (replayed %q)", code, out, hdr.Get("Idempotent-Replayed"))
	}
	var first struct{ ID string }
	json.Unmarshal(out, &first)
	// Again, and concurrently-minded clients: still the same answer.
	if code, again, _ := reporter.withKey("POST", "/cases", key, body); code != 201 || !bytes.Equal(again, out) {
		t.Fatalf("second retry: %d %s", code, again)
	}
	// The same key for another card: refused, nothing appended.
	if code, out, _ := reporter.withKey("POST", "/cases", key, fileBody(32, card("influenza", districtA))); code != 422 || errorField(t, string(out)) != "Idempotency-Key" {
		t.Fatalf("same key, another card: %d %s", code, out)
	}
	b.settled()
	filed := 0
	for _, raw := range crawlLedger(t, client{t: t, base: "http://" + b.httpAddr}) {
		if e, err := events.Parse(raw); err == nil && e.Type == "case.filed" {
			filed++
			if e.Aggregate.ID != first.ID {
				t.Errorf("a second card %s was filed", e.Aggregate.ID)
			}
		}
	}
	if filed != 1 {
		t.Fatalf("%d cards filed, want 1", filed)
	}
}

// TestLimits: a bounded burst on loopback. Sign-in attempts beyond the
// limit get 429 with Retry-After; a client over its limit is refused while
// the health probes and other clients (told apart by a trusted proxy's
// X-Forwarded-For) are served; an X-Forwarded-For from anyone else is
// ignored.
func TestLimits(t *testing.T) {
	b := newBackend(t)
	b.startWith("--limit-signin", "5", "--limit-client", "50", "--limit-account", "20", "--trusted-proxies", "127.0.0.1")
	base := "http://" + b.httpAddr
	get := func(path, forwardedFor string) (int, http.Header) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	res := signIn(t, base, "writer") // the first of 5 sign-ins
	// Sign-in: 5 a minute per client.
	anon := client{t: t, base: base}
	codes := map[int]int{}
	for i := range 12 {
		code, _ := anon.do("POST", "/auth/wechat", map[string]string{"code": fmt.Sprintf("burst-%d", i)})
		codes[code]++
	}
	if codes[200] != 4 || codes[429] != 8 {
		t.Fatalf("sign-in burst: %v", codes)
	}
	// A client of the proxy over its limit; another client and the probes
	// are served.
	limited := 0
	var retry string
	for range 80 {
		code, h := get("/public/needs", "10.0.0.8")
		if code == 429 {
			limited++
			retry = h.Get("Retry-After")
		}
	}
	if limited < 30 || retry == "" {
		t.Fatalf("client over its limit: %d refused, Retry-After %q", limited, retry)
	}
	if code, _ := get("/public/needs", "10.0.0.9"); code != 200 {
		t.Errorf("another client: %d", code)
	}
	if code, _ := get("/readyz", "10.0.0.8"); code != 200 {
		t.Errorf("readiness probe during the burst: %d", code)
	}
	// Writes: 20 a minute per session (these fail, and count all the same).
	writes := map[int]int{}
	for range 30 {
		code, _ := res.do("POST", "/me/declarations", map[string]any{"person_id": "p-nobody", "temperature": 36.5})
		writes[code]++
	}
	if writes[429] != 10 {
		t.Errorf("30 writes of one session: %v", writes)
	}
}
