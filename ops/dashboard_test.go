package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/onebook/onebook/backend/auth"
)

// dashboardCharts are the chart containers of the dashboard page; each gets
// data-drawn with the number of data points once drawn.
var dashboardCharts = []string{"chart-entries", "chart-flows", "chart-cases", "chart-stock", "chart-ledger"}

// TestDashboardInBrowser drives the staff dashboard in headless Chromium
// against the real backend with the demo: a staff member signed in to the
// mini-program asks for a dashboard code, types it into the page, sees every
// chart drawn with data, and downloads an export that verifies offline.
func TestDashboardInBrowser(t *testing.T) {
	needChromium(t)
	b := newBackend(t)
	b.start(true) // the demo: about 30 s
	base := "http://" + b.httpAddr

	// The demo has one district, so no one moves between districts: a
	// resident of 110105 passes a gate at home and then, as a visitor, a
	// gate in 110106 — one move for the flows chart.
	const idNumber, phone = "110105199003070033", "13800000731"
	recordMove(t, b, idNumber, phone)

	// The government analyst of the demo district signs in to the
	// mini-program (the fake WeChat knows demo staff by name) and asks for
	// a dashboard code.
	gov := signIn(t, base, "demo-gov")
	var dc struct {
		Code      string    `json:"code"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	gov.json("POST", "/auth/dashboard-code", nil, 200, &dc)
	b.settled()

	downloads := t.TempDir()
	ctx := newBrowser(t)
	problems := watchConsole(ctx)
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)

	// Sign in with the code, typed as a person would.
	typed := strings.ToLower(dc.Code[:4]) + " " + dc.Code[4:]
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible("#code"),
		chromedp.SendKeys("#code", typed),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#board"),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}

	// Every chart drawn with data; a panel that fails says why at once.
	drawn, err := chromedp.Run(ctx, chromedp.Poll[map[string]string](`(() => {
		const ids = `+jsList(dashboardCharts)+`;
		const out = {};
		for (const id of ids) {
			const el = document.getElementById(id);
			if (el.dataset.state === 'error' || el.dataset.state === 'empty') {
				return {failed: id + ': ' + el.dataset.state + ': ' + document.getElementById('note-' + id.slice(6)).textContent};
			}
			if (!(Number(el.dataset.drawn) > 0)) return null;
			out[id] = el.dataset.drawn;
		}
		const ex = document.getElementById('exports').dataset.state;
		if (ex === 'loading') return null;
		out.exports = ex;
		return out;
	})()`, chromedp.WithPollingTimeout(90*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		t.Fatalf("charts not drawn: %v (console: %v)", err, problems)
	}
	if f, ok := drawn["failed"]; ok {
		t.Fatalf("chart %s (console: %v)", f, problems)
	}
	t.Logf("data points drawn: %v", drawn)
	if problems.threw() {
		t.Errorf("the page threw: %v", problems)
	}

	// The session lives in sessionStorage only, and the page shows no
	// personal data: not the ID number nor the phone of the resident above.
	check, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`[sessionStorage.getItem('onebook.dashboard.session') !== null, localStorage.length, document.body.innerText]`))
	if err != nil {
		t.Fatal(err)
	}
	if check[0] != true || check[1] != float64(0) {
		t.Errorf("session storage %v, local storage entries %v", check[0], check[1])
	}
	if text, _ := check[2].(string); strings.Contains(text, idNumber) || strings.Contains(text, phone) || strings.Contains(text, idNumber[len(idNumber)-4:]+" ") {
		t.Errorf("the page shows personal data")
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(t.TempDir(), "dashboard.png")
	if dir := os.Getenv("ONEBOOK_SCREENSHOT_DIR"); dir != "" { // to keep it after the test
		png = filepath.Join(dir, "dashboard.png")
	}
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", png)

	if drawn["exports"] != "ready" {
		t.Logf("exports: %s (GET /exports is not served by this backend yet): no export downloaded", drawn["exports"])
		return
	}
	var view string
	if view, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#exports button.export').dataset.view`)); err != nil {
		t.Fatalf("no export button: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#exports button.export")); err != nil {
		t.Fatal(err)
	}
	bundle := ""
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download of %s: %v", view, err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatalf("download of %s canceled", view)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			bundle = filepath.Join(downloads, ev.GUID)
			if ev.FilePath != "" {
				bundle = ev.FilePath
			}
			break
		}
	}
	status, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#exports .status').textContent`))
	if err != nil || !strings.HasPrefix(status, "downloaded ") {
		t.Fatalf("export %s: page says %q (%v)", view, status, err)
	}
	verifyBundle(t, b, view, bundle)
}

// verifyBundle checks that a downloaded export is a zip and, if this ops has
// the command, verifies it offline with the checkpoint verifier key.
func verifyBundle(t *testing.T, b *backend, view, bundle string) {
	t.Helper()
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("export %s is not a zip (%d bytes): %v", view, len(data), err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	t.Logf("export %s: %d bytes, files %v", view, len(data), names)
	zipped := bundle + ".zip"
	if err := os.Rename(bundle, zipped); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(b.dir, "seal.key.pub")
	url := "http://" + b.httpAddr
	code, out := ops(t, "verify-export", zipped, "--key", pub, "--url", url)
	if strings.Contains(out, "unknown command") {
		t.Logf("ops has no verify-export command yet: bundle not verified")
		return
	}
	if code == 0 {
		t.Logf("ops verify-export %s:\n%s", filepath.Base(zipped), out)
		return
	}
	// verify-export reads an unpacked bundle.
	t.Logf("ops verify-export of the zip (%d): %s", code, firstLine(out))
	dir := bundle + ".d"
	if err := unzip(zr, dir); err != nil {
		t.Fatal(err)
	}
	code, out = ops(t, "verify-export", dir, "--key", pub, "--url", url)
	if code != 0 {
		t.Fatalf("ops verify-export of the downloaded %s bundle (%d):\n%s", view, code, out)
	}
	t.Logf("ops verify-export of the unpacked %s bundle:\n%s", view, out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func unzip(zr *zip.Reader, dir string) error {
	for _, f := range zr.File {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("zip entry %q leaves the directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		r, err := f.Open()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(r)
		r.Close()
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// needChromium skips the test when the browser is missing, or fails it on
// CI, where go run ./ops test has installed it.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (go run ./ops test installs it): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing; go run ./ops test installs it (apt-get install chromium)", chromiumPath)
	}
}

// console is what a page threw and logged as errors, for the failure
// messages.
type console struct {
	mu         sync.Mutex
	problems   []string
	exceptions int
}

// watchConsole collects the exceptions and console errors of the page in
// ctx until ctx ends.
func watchConsole(ctx context.Context) *console {
	c := &console{}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				c.mu.Lock()
				c.problems = append(c.problems, m.String())
				if m.IsException() {
					c.exceptions++
				}
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.problems)
}

// threw reports whether the page threw an exception.
func (c *console) threw() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exceptions > 0
}

// newBrowser starts headless Chromium with a fresh profile and returns its
// context, stopped when the test ends; the flags keep it off the network
// (this machine's network is closed) and out of the sandbox (as root).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	profile := t.TempDir() // removed after the browser has stopped (cleanups run last first)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1360, 1700),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start it now: a broken browser fails here
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

func ptr[T any](v T) *T { return &v }

func jsList(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

// recordMove has the person with idNumber registered in the demo community
// 110105001001 pass a gate there, then visit a household of 110106001001
// and pass its gate: a move from district 110105 to 110106 today.
func recordMove(t *testing.T, b *backend, idNumber, phone string) {
	t.Helper()
	base := "http://" + b.httpAddr
	now := time.Now().UTC()
	type household struct {
		Household struct {
			Members []struct {
				PersonID string `json:"person_id"`
			}
		}
		Session struct{ Token string }
	}
	register := func(code, community, name, id, phone string) (client, string) {
		c := signIn(t, base, code)
		var h household
		c.json("PUT", "/me/household", map[string]any{"community": community, "building": "7", "unit": "1-101",
			"members": []map[string]string{{"name": name, "id_number": id, "phone": phone}}}, 200, &h)
		c.token = h.Session.Token
		return c, h.Household.Members[0].PersonID
	}
	scan := func(op client, id, token, gate string) {
		var r struct{ Scan struct{ Decision string } }
		op.json("POST", "/scans", map[string]any{"scan_id": id, "token": token, "gate": gate, "direction": "in", "scanned_at": now}, 200, &r)
	}
	gate := func(pm client, community string) string {
		var g struct{ ID string }
		pm.json("POST", "/gates", map[string]string{"community": community, "name": "北门"}, 201, &g)
		return g.ID
	}

	res, person := register("dashboard-resident", "110105001001", "王小明", idNumber, phone)
	var pass struct{ Token string }
	res.json("GET", "/me/passes/"+person, nil, 200, &pass)
	home := signIn(t, base, "demo-pm-0") // the demo's property manager of 110105001001
	scan(home, "dashboard-home", pass.Token, gate(home, "110105001001"))

	away := staffClient(t, b, auth.PropertyManager, "110106001001")
	host, _ := register("dashboard-host", "110106001001", "李大华", "110106198507150020", "13900000731")
	var visit struct{ ID string }
	host.json("POST", "/me/visits", map[string]any{"name": "王小明", "id_number": idNumber, "phone": phone,
		"from": now.Add(-time.Minute), "to": now.Add(4 * time.Hour)}, 201, &visit)
	var vpass struct{ Token string }
	host.json("GET", "/visits/"+visit.ID+"/pass", nil, 200, &vpass)
	scan(away, "dashboard-away", vpass.Token, gate(away, "110106001001"))
}

// TestDashboardInBrowserCell drives the dashboard of a province's cell in
// a deployment with a ledger per province, with the demo: province 31's
// cell holds demo data of its own region (Shanghai's 310105, derived from
// Beijing's), its government analyst signs in on the page at
// /p/31/dashboard, which loads its assets, signs in and reads every figure
// from province 31's API under /p/31/ and nothing from the root, and every
// panel but the flows (the demo has one district: no moves) is drawn with
// data from the demo's communities, which the page derives from the cell.
// One province only, to keep it to one demo (about 30 s).
func TestDashboardInBrowserCell(t *testing.T) {
	needChromium(t)
	b := newBackend(t)
	b.startWith("--partitions", "31", "--demo")
	cellsReady(t, b.httpAddr, true)
	cell := cellBase(b.httpAddr, "31")
	gov := signIn(t, cell, "demo-gov")
	var me struct{ Scope string }
	gov.json("GET", "/me", nil, 200, &me)
	if me.Scope != "310105" {
		t.Fatalf("province 31's demo analyst has scope %q, want its own district 310105", me.Scope)
	}
	var dc struct{ Code string }
	gov.json("POST", "/auth/dashboard-code", nil, 200, &dc)

	ctx := newBrowser(t)
	problems := watchConsole(ctx)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(cell+"/dashboard/"), // sent to /p/31/dashboard
		chromedp.WaitVisible("#code"),
		chromedp.SendKeys("#code", dc.Code),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#board"),
	); err != nil {
		t.Fatalf("sign in: %v (console: %v)", err, problems)
	}
	// Every panel settles; the ledger's is drawn from the cell's own
	// health and checkpoint.
	states, err := chromedp.Run(ctx, chromedp.Poll[map[string]string](`(() => {
		const out = {};
		for (const id of `+jsList(dashboardCharts)+`) {
			const el = document.getElementById(id);
			if (!el.dataset.state || el.dataset.state === 'loading') return null;
			out[id] = el.dataset.state + ' ' + (el.dataset.drawn || '') + ': ' + document.getElementById('note-' + id.slice(6)).textContent;
		}
		return out;
	})()`, chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		t.Fatalf("panels not settled: %v (console: %v)", err, problems)
	}
	for id, st := range states {
		if !strings.HasPrefix(st, "drawn") && !(id == "chart-flows" && strings.HasPrefix(st, "empty")) {
			t.Errorf("%s: %s", id, st)
		}
	}
	t.Logf("panels: %v", states)
	// Every request of the page went to province 31's cell (but the
	// browser's own for the site's icon).
	urls, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.href].concat(performance.getEntriesByType('resource').map((e) => e.name))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) < 6 || urls[0] != cell+"/dashboard" {
		t.Fatalf("the page at %v loaded %v", urls[0], urls[1:])
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, cell+"/") && u != "http://"+b.httpAddr+"/favicon.ico" {
			t.Errorf("the page of /p/31 requested %s", u)
		}
	}
	checkpoint, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('chart-ledger').closest('section').innerText`))
	if err != nil || !strings.Contains(checkpoint, "onebook.local/ledger/p/31") {
		t.Errorf("the ledger panel does not name province 31's log: %q %v", checkpoint, err)
	}
}
