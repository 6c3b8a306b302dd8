package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events/nationevents"
)

// TestNationalLogOfLogs runs the backend with two province cells and the
// national cell, waits until the national log has recorded a checkpoint
// of each province, and audits it with ops verify --national through the
// backend's own tlog-tiles routes (/national/..., /p/NN/...).
func TestNationalLogOfLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a partitioned backend")
	}
	b := newBackend(t)
	b.startWith("--partitions", "11,31", "--nation-interval", "20ms")
	base := "http://" + b.httpAddr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if n := recordedProvinces(t, base); n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the national log did not record a checkpoint of both provinces")
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out := ops(t, "verify", "--national", base, "--data", b.dir, "--partitions", "11,31", "--event", "31:0", "--event", "11:5")
	if code != 0 || !strings.Contains(out, "ok   province 11") || !strings.Contains(out, "ok   province 31") ||
		!strings.Contains(out, "ok   chain to event 0 of province 31") || !strings.Contains(out, "ok   chain to event 5 of province 11") {
		t.Fatalf("ops verify --national (%d):\n%s", code, out)
	}
}

// recordedProvinces counts the provinces with a nation.checkpoint in the
// national log's first entry bundle, as far as its checkpoint covers it.
func recordedProvinces(t *testing.T, base string) int {
	t.Helper()
	get := func(path string) string {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return ""
		}
		return string(b)
	}
	cp := strings.Split(get("/national/checkpoint"), "\n")
	if len(cp) < 3 || cp[1] == "0" || cp[1] == "" {
		return 0
	}
	size, err := strconv.Atoi(cp[1])
	if err != nil {
		t.Fatalf("national checkpoint size %q", cp[1])
	}
	path := "/national/tile/entries/000"
	if size < 256 {
		path += ".p/" + cp[1]
	}
	bundle := get(path)
	n := 0
	for _, p := range []string{`"id":"11","kind":"` + nationevents.Kind, `"id":"31","kind":"` + nationevents.Kind} {
		if strings.Contains(bundle, p) {
			n++
		}
	}
	return n
}
