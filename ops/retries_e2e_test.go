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
	conn, err := net.Dial("tcp", b.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /cases HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s",
		b.httpAddr, reporter.token, key, len(raw), raw)
	conn.Close()

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
