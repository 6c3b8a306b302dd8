package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/miniapp-api/api"
	"github.com/onebook/onebook/ops/cluster"
)

// cellBase is the base URL of cell's API on the backend at addr.
func cellBase(addr string, cell events.Region) string {
	return "http://" + addr + partition.Prefix(cell)
}

// cellStaff creates a staff account in cell with ops staff add --cell and
// binds it through the cell's API.
func cellStaff(t *testing.T, b *backend, cell events.Region, role auth.Role, scope string) client {
	t.Helper()
	return cellAccount(t, b, cell, role, "--scope", scope)
}

// cellOrgStaff is cellStaff for an account acting for an organisation of
// the cell (its scope is the organisation's region).
func cellOrgStaff(t *testing.T, b *backend, cell events.Region, role auth.Role, org string) client {
	t.Helper()
	return cellAccount(t, b, cell, role, "--org", org)
}

// cellAccount creates a staff account of role in cell with ops staff add
// --cell and the flags given, and binds it through the cell's API.
func cellAccount(t *testing.T, b *backend, cell events.Region, role auth.Role, flags ...string) client {
	t.Helper()
	args := append([]string{"staff", "add", "--cell", string(cell), "--role", string(role)}, flags...)
	code, out := ops(t, append(args, b.args()...)...)
	if code != 0 {
		t.Fatalf("staff add --cell %s %v: %s", cell, flags, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	c := client{t: t, base: cellBase(b.httpAddr, cell)}
	var s struct{ Token string }
	c.json("POST", "/auth/staff/bind", map[string]string{"code": fmt.Sprintf("staff-%s-%s-%s-%d", cell, role, strings.Join(flags, ""), time.Now().UnixNano()),
		"invite_code": lines[len(lines)-1]}, 200, &s)
	c.token = s.Token
	return c
}

// cellsReady waits until the root /readyz of the partitioned backend at
// addr answers that every cell is ready, and returns the cells' health.
func cellsReady(t *testing.T, addr string, settled bool) api.CellsHealth {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a bound on a hang, not a figure
	for {
		var h api.CellsHealth
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		ok := err == nil && h.Ready
		for _, st := range h.Cells {
			ok = ok && (!settled || st.Ledger.SealLag == 0)
		}
		if ok {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cells are not ready: %+v %v", h, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// refusedRegion checks that an answer is a 4xx JSON error naming the field
// region.
func refusedRegion(t *testing.T, what string, code int, body []byte) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field, Message string }
	}
	if code < 400 || code >= 500 || json.Unmarshal(body, &e) != nil || e.Error.Field != "region" {
		t.Fatalf("%s: %d %s, want a 4xx naming the field region", what, code, body)
	}
}

// TestAuthzCells runs a backend with a ledger per province (11 Beijing, 12
// Tianjin) and checks that the cells are apart: every route of one
// province answers a session of the other exactly as it answers no session
// at all (a token is valid only in its own cell: nobody of one province
// reads the other's raw events through any route of the API), an event
// of one province is refused by the other's ledger with a 4xx naming
// region, whether it comes through the API or ops staff add, and the
// national ledger serves its log and no raw-event route.
//
// The two provinces are given the same session key, as if it had been
// shared (one secret mounted for every cell): a session is then kept in
// its cell by the audience it names alone, which is what the routes below
// test; with keys of their own, as the backend makes them, the cells are
// apart twice over.
func TestAuthzCells(t *testing.T) {
	b := newBackend(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	for _, cell := range []events.Region{"11", "12"} {
		dir := filepath.Join(b.dir, partition.Name(cell))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "session.key"), key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b.startWith("--partitions", "11,12")
	cellsReady(t, b.httpAddr, false)
	base11, base12 := cellBase(b.httpAddr, "11"), cellBase(b.httpAddr, "12")

	// Province 11's most privileged staff (national scope) and a resident.
	admin11 := cellStaff(t, b, "11", auth.Admin, string(events.National))
	analyst11 := cellStaff(t, b, "11", auth.GovAnalyst, string(events.National))
	resident11, _ := oneMember(t, base11, "cells-resident", "张三", "11010519491231002X", "13800138000")
	// Their tokens work at home: the control that makes the comparison
	// below mean something.
	for _, c := range []client{admin11, analyst11, resident11} {
		c.json("GET", "/me", nil, 200, nil)
	}
	// Province 12 has data of its own for the routes to find.
	resident12 := signIn(t, base12, "cells-resident-12")
	resident12.json("PUT", "/me/household", map[string]any{"community": "120101001001", "building": "1",
		"members": []map[string]string{{"name": "李四", "id_number": "110105201001010010", "phone": "13900139000"}}}, 200, nil)

	// Every route of province 12's API, called with each token of
	// province 11, answers as it answers an anonymous caller.
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	client{t: t, base: base12}.json("GET", "/openapi.json", nil, 200, &doc)
	param := regexp.MustCompile(`\{[^}]+\}`)
	routes := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			method = strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "POST", "PUT", "DELETE", "PATCH"}, method) {
				continue
			}
			p := param.ReplaceAllString(path, "x1")
			var body any
			if method != "GET" && method != "DELETE" {
				body = map[string]any{}
			}
			anonymous, _ := client{t: t, base: base12}.do(method, p, body)
			for _, c := range []client{admin11, analyst11, resident11} {
				foreign := client{t: t, base: base12, token: c.token}
				if code, out := foreign.do(method, p, body); code != anonymous {
					t.Errorf("%s /p/12%s with a token of province 11: %d %s; anonymous: %d", method, p, code, out, anonymous)
				}
			}
			routes++
		}
	}
	if routes < 50 {
		t.Fatalf("only %d routes in province 12's OpenAPI document", routes)
	}
	t.Logf("%d routes of province 12 answer province 11's tokens as they answer no token", routes)

	// The routing rule: an event of province 11 is refused by 12's ledger.
	stranger := signIn(t, base12, "cells-stranger")
	code, out := stranger.do("PUT", "/me/household", map[string]any{"community": communityA, "building": "1",
		"members": []map[string]string{{"name": "王五", "id_number": "110105198001010024", "phone": "13700137000"}}})
	refusedRegion(t, "province 11's household sent to province 12", code, out)
	code, out = admin11.do("POST", "/staff", map[string]string{"role": "gate_operator", "scope": "120101001001"})
	refusedRegion(t, "province 11's admin making staff of province 12", code, out)
	if code, out := ops(t, append([]string{"staff", "add", "--cell", "12", "--role", "gate_operator", "--scope", communityA}, b.args()...)...); code == 0 || !strings.Contains(out, "region") {
		t.Fatalf("ops staff add --cell 12 for a community of 11: %d %s", code, out)
	}

	// The national cell: a log with no raw-event route.
	nation := client{t: t, base: cellBase(b.httpAddr, partition.Nation)}
	if code, out := nation.do("GET", "/checkpoint", nil); code != 200 || !strings.HasPrefix(string(out), "onebook.local/ledger/national\n") {
		t.Fatalf("national checkpoint: %d %s", code, out)
	}
	// (GET /national/cases is the national case counts, folded from the
	// provinces' aggregates; a card, /cases/{id}, has no route there.)
	for _, p := range []string{"/me", "/cases/c-1", "/communities/" + communityA + "/inside", "/exports/gate_hourly"} {
		if code, _ := (client{t: t, base: nation.base, token: admin11.token}).do("GET", p, nil); code != 404 {
			t.Errorf("GET /national%s: %d, want 404", p, code)
		}
	}
	if code, _ := (client{t: t, base: "http://" + b.httpAddr}).do("GET", "/me", nil); code != 404 {
		t.Errorf("GET /me outside every cell: %d, want 404", code)
	}
}

// TestPartitionsCluster runs four provinces' ledgers on the in-process
// three-node JetStream cluster (an account per cell, every stream R3), one
// worker replica serving all of them: each resident's household lands in
// the ledger of its province and in no other (every event of a province's
// ledger lies in that province), the national ledger holds no raw event,
// one province's cell refuses another's household with a 4xx naming
// region, and each province's log verifies on its own (ops verify --cell),
// against its own verifier key and not another's, and, without -short,
// by tessera's fsck over its tlog-tiles under /p/NN/.
func TestPartitionsCluster(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute) // a bound on a hang, not a figure
	defer cancel()
	communities := map[events.Region]string{"11": "110105001001", "31": "310104001001", "44": "440305001001", "51": "510104001001"}
	ids := map[events.Region]string{"11": "11010519491231002X", "31": "110105201001010010", "44": "110105198001010024", "51": "110105199002150031"}
	provinces := []events.Region{"11", "31", "44", "51"}
	c, err := cluster.Start(ctx, cluster.Config{Dir: t.TempDir(), Command: []string{exe, "cluster", "replica"}, Env: replicaEnv(),
		Partitions: provinces, APIs: -1, Flags: []string{"--seal-interval", "100ms", "--small-cell", "1", "--report-interval", "200ms"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.Workers[0].Addr
	for _, p := range provinces {
		r := signIn(t, cellBase(addr, p), "cluster-resident-"+string(p))
		var reg struct {
			Household struct {
				Members []struct {
					PersonID string `json:"person_id"`
				}
			}
			Session struct{ Token string }
		}
		r.json("PUT", "/me/household", map[string]any{"community": communities[p], "building": "1",
			"members": []map[string]string{{"name": "张三", "id_number": ids[p], "phone": "13800138000"}}}, 200, &reg)
		if p == "31" { // a stay in Guangdong, declared in Shanghai: an arrival for the nation's flows
			r.token = reg.Session.Token
			r.json("POST", "/me/declarations", map[string]any{"person_id": reg.Household.Members[0].PersonID, "temperature": 36.5,
				"visited": []string{"440305"}}, 201, nil)
		}
	}
	stranger := signIn(t, cellBase(addr, "31"), "cluster-stranger")
	code, out := stranger.do("PUT", "/me/household", map[string]any{"community": communities["44"], "building": "1",
		"members": []map[string]string{{"name": "王五", "id_number": "110105198001010024", "phone": "13700137000"}}})
	refusedRegion(t, "province 44's household sent to province 31", code, out)

	for _, cell := range append(provinces, partition.Nation) {
		nc, js, err := c.CellJetStream(cell)
		if err != nil {
			t.Fatal(err)
		}
		var regions []events.Region
		err = ledger.ScanStream(ctx, js, "LEDGER", nil, 1, ^uint64(0), func(rec events.Recorded) error {
			e, err := events.Parse(rec.Raw)
			if err != nil {
				return err
			}
			if cell == partition.Nation && strings.HasPrefix(e.Type, "aggregate.") && slices.Contains(provinces, e.Region) {
				regions = append(regions, e.Region) // what a province published to the nation: no raw event
				return nil
			}
			// The national ledger holds what the provinces publish to the
			// nation (their aggregates above) and what the national cell
			// records of them (their signed checkpoints: the log of logs;
			// national alerts; exports), never a raw event.
			national := slices.Contains(nationevents.Types(), e.Type)
			if cell == partition.Nation && !national || cell != partition.Nation && e.Region != events.National && e.Region.Province() != cell {
				t.Errorf("the ledger of %s holds %s of region %s", partition.Name(cell), e.Type, e.Region)
			}
			regions = append(regions, e.Region)
			return nil
		})
		nc.Close()
		if err != nil {
			t.Fatalf("scan the ledger of %s: %v", partition.Name(cell), err)
		}
		if cell != partition.Nation && !slices.Contains(regions, events.Region(communities[cell])) {
			t.Errorf("the household of community %s is not in the ledger of %s (regions %v)", communities[cell], partition.Name(cell), regions)
		}
		t.Logf("ledger of %s: %d events", partition.Name(cell), len(regions))
	}

	// The arrival reached the nation through 31's OUTBOX, sourced across
	// accounts into the national ledger on the cluster (R3).
	nation := client{t: t, base: cellBase(addr, partition.Nation)}
	today := events.Day(time.Now())
	var flows []struct {
		From, To string
		Arrivals int64
	}
	for deadline := time.Now().Add(time.Minute); len(flows) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		nation.json("GET", "/flows?from="+today+"&to="+today, nil, 200, &flows)
	}
	if len(flows) != 1 || flows[0].From != "44" || flows[0].To != "31" || flows[0].Arrivals != 1 {
		t.Errorf("national flows on the cluster: %+v, want one arrival from 44 in 31", flows)
	}

	h := cellsReady(t, addr, true)
	conn := []string{"--data", c.KeysDir(), "--nats-url", c.NATSURL(), "--mongo-uri", c.MongoURI()}
	for _, p := range provinces {
		if h.Cells[partition.Name(p)].Ledger.SealedSize == 0 {
			t.Errorf("province %s sealed nothing: %+v", p, h.Cells[partition.Name(p)].Ledger)
		}
		if code, out := ops(t, append([]string{"verify", "--cell", string(p)}, conn...)...); code != 0 {
			t.Errorf("ops verify --cell %s (%d):\n%s", p, code, out)
		}
	}
	// Each province's tlog-tiles, audited by tessera's fsck with only its
	// verifier key and origin (as TestOffTheShelfFsckAuditsTheLog does
	// for the single ledger; it builds fsck, so not with -short).
	if _, err := exec.LookPath("go"); err == nil && !testing.Short() {
		for _, p := range provinces {
			cc := c.CellConfig(p)
			if out, ok := runFsck(t, cellBase(addr, p), cc.SealKeyFile+".pub", cc.Origin); !ok {
				t.Errorf("fsck of province %s's log failed:\n%s", p, out)
			}
		}
	}
	other := filepath.Join(c.KeysDir(), "p11", "seal.key.pub")
	if code, out := ops(t, append([]string{"verify", "--cell", "31", "--key", other}, conn...)...); code == 0 {
		t.Errorf("province 31's log verifies against province 11's key:\n%s", out)
	}
}
