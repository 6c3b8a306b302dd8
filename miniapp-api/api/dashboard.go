package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/miniapp-api/dashboard"
)

// The staff dashboard (GET /dashboard) runs in a browser, which has no
// wx.login code. Staff sign in to it like a television signs in to a
// streaming account: signed in to the mini-program, they ask for a short
// one-time code (POST /auth/dashboard-code) and type it into the page, which
// exchanges it for a session of the same account (POST /auth/dashboard).
//
// The codes live in the memory of the backend process that issued them, as
// SHA-256 hashes only: they are per replica. Behind a load balancer with
// several replicas, route /auth/dashboard* to one replica (or with sticky
// sessions), or a code issued by one replica is unknown to the others.
const (
	// DashboardCodeAlphabet has no 0/O, 1/I/L: nothing to misread.
	DashboardCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
	// DashboardCodeLength is the length of a code: 31^8 ≈ 8.5e11 codes.
	DashboardCodeLength = 8
	// DashboardCodeTTL is how long a code may be used (once).
	DashboardCodeTTL = 5 * time.Minute
	// DashboardFailLimit failed sign-ins per client IP within
	// DashboardFailWindow block further attempts from that IP until the
	// oldest of them leaves the window.
	DashboardFailLimit  = 10
	DashboardFailWindow = time.Minute
	// MaxDashboardCodes bounds the codes outstanding at once (each account
	// has at most one: a new code replaces its previous one).
	MaxDashboardCodes = 10_000
	// maxFailIPs bounds the client IPs whose failures are remembered.
	maxFailIPs = 100_000
)

// deviceCodes holds the outstanding dashboard codes and the recent failed
// attempts per client IP.
type deviceCodes struct {
	mu        sync.Mutex
	now       func() time.Time
	codes     map[[sha256.Size]byte]deviceCode // SHA-256 of the code → what it signs in
	bySubject map[string][sha256.Size]byte     // each account's outstanding code
	fails     map[string][]time.Time           // client IP → failed attempts in the window
}

type deviceCode struct {
	p   auth.Principal
	exp time.Time
}

func newDeviceCodes(now func() time.Time) *deviceCodes {
	if now == nil {
		now = time.Now
	}
	return &deviceCodes{now: now, codes: map[[sha256.Size]byte]deviceCode{}, bySubject: map[string][sha256.Size]byte{}, fails: map[string][]time.Time{}}
}

// newDashboardCode returns a random code of DashboardCodeLength characters
// of DashboardCodeAlphabet, each uniformly distributed.
func newDashboardCode() (string, error) {
	const n = len(DashboardCodeAlphabet)
	limit := byte(256 - 256%n) // reject bytes that would bias the modulo
	out := make([]byte, 0, DashboardCodeLength)
	buf := make([]byte, 16)
	for len(out) < DashboardCodeLength {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b < limit && len(out) < DashboardCodeLength {
				out = append(out, DashboardCodeAlphabet[int(b)%n])
			}
		}
	}
	return string(out), nil
}

// normalizeDashboardCode accepts what a person types: lower case, spaces
// and dashes are fine. ok is false if it cannot be a code.
func normalizeDashboardCode(s string) (string, bool) {
	s = strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(s))
	if len(s) != DashboardCodeLength {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(DashboardCodeAlphabet, rune(s[i])) {
			return "", false
		}
	}
	return s, true
}

// issue stores a new code for p, replacing p's previous one.
func (d *deviceCodes) issue(p auth.Principal) (string, time.Time, error) {
	code, err := newDashboardCode()
	if err != nil {
		return "", time.Time{}, err
	}
	now := d.now()
	exp := now.Add(DashboardCodeTTL)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep(now)
	if old, ok := d.bySubject[p.Subject]; ok {
		delete(d.codes, old)
	}
	if len(d.codes) >= MaxDashboardCodes {
		return "", time.Time{}, &events.Error{Code: events.CodeUnavailable, Message: "too many dashboard codes outstanding; try again in a few minutes"}
	}
	h := sha256.Sum256([]byte(code))
	d.codes[h] = deviceCode{p: p, exp: exp}
	d.bySubject[p.Subject] = h
	return code, exp, nil
}

// sweep forgets expired codes and failures that left the window. The
// caller holds d.mu.
func (d *deviceCodes) sweep(now time.Time) {
	for h, c := range d.codes {
		if !now.Before(c.exp) {
			delete(d.codes, h)
			if d.bySubject[c.p.Subject] == h {
				delete(d.bySubject, c.p.Subject)
			}
		}
	}
	for ip := range d.fails {
		if d.recentFails(ip, now) == 0 {
			delete(d.fails, ip)
		}
	}
}

// recentFails drops ip's failures older than the window and counts the
// rest. The caller holds d.mu.
func (d *deviceCodes) recentFails(ip string, now time.Time) int {
	fs := d.fails[ip]
	i := 0
	for i < len(fs) && !now.Before(fs[i].Add(DashboardFailWindow)) {
		i++
	}
	if i > 0 {
		fs = fs[i:]
		if len(fs) == 0 {
			delete(d.fails, ip)
		} else {
			d.fails[ip] = fs
		}
	}
	return len(fs)
}

// blocked reports whether ip has used up its failed attempts, and for how
// long it stays blocked.
func (d *deviceCodes) blocked(ip string) (time.Duration, bool) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.recentFails(ip, now) < DashboardFailLimit {
		return 0, false
	}
	return d.fails[ip][0].Add(DashboardFailWindow).Sub(now), true
}

// fail records a failed attempt from ip.
func (d *deviceCodes) fail(ip string) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.fails[ip]; !ok && len(d.fails) >= maxFailIPs {
		d.sweep(now)
		if len(d.fails) >= maxFailIPs {
			return // under a flood from this many addresses, forget the newest
		}
	}
	d.fails[ip] = append(d.fails[ip], now)
	if n := len(d.fails[ip]); n > DashboardFailLimit {
		d.fails[ip] = d.fails[ip][n-DashboardFailLimit:]
	}
}

// redeem uses up a code: ok is false if it is unknown or expired.
func (d *deviceCodes) redeem(code string) (auth.Principal, bool) {
	h := sha256.Sum256([]byte(code))
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.codes[h]
	if !ok {
		return auth.Principal{}, false
	}
	delete(d.codes, h)
	if d.bySubject[c.p.Subject] == h {
		delete(d.bySubject, c.p.Subject)
	}
	if !now.Before(c.exp) {
		return auth.Principal{}, false
	}
	return c.p, true
}

// DashboardCode is the answer of POST /auth/dashboard-code.
type DashboardCode struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// dashboardRoutes mounts the dashboard page, its assets and its sign-in.
func (h *handlers) dashboardRoutes(app *fiber.App) {
	codes := newDeviceCodes(nil)
	authd := authenticate(h.cfg.Sessions)
	app.Post("/auth/dashboard-code", authd, func(c *fiber.Ctx) error { return h.dashboardCode(c, codes) })
	app.Post("/auth/dashboard", func(c *fiber.Ctx) error { return h.dashboardSignIn(c, codes) })
	app.Get("/dashboard", serveDashboard)
	app.Get("/dashboard/assets/:file", serveDashboardAsset)
}

// isStaff: only staff accounts use the dashboard.
func isStaff(p auth.Principal) bool { return slices.Contains(auth.StaffRoles(), p.Role) }

func (h *handlers) dashboardCode(c *fiber.Ctx, codes *deviceCodes) error {
	p := principal(c)
	if !isStaff(p) {
		return &events.Error{Code: events.CodeForbidden, Message: "the dashboard is for staff accounts"}
	}
	code, exp, err := codes.issue(p)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(DashboardCode{Code: code, ExpiresAt: exp})
}

func (h *handlers) dashboardSignIn(c *fiber.Ctx, codes *deviceCodes) error {
	ip := c.IP()
	if wait, blocked := codes.blocked(ip); blocked {
		secs := int(wait.Seconds()) + 1
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		return c.Status(fiber.StatusTooManyRequests).JSON(errorBody{Error: errorDetail{Code: events.CodeUnavailable, Field: "code",
			Message: fmt.Sprintf("too many failed attempts from this address; try again in %d s", secs)}})
	}
	var in struct {
		Code string `json:"code"`
	}
	if err := decode(c, &in); err != nil {
		codes.fail(ip)
		return err
	}
	code, ok := normalizeDashboardCode(in.Code)
	if !ok {
		codes.fail(ip)
		return events.Invalid("code", "a dashboard code has %d letters and digits", DashboardCodeLength)
	}
	p, ok := codes.redeem(code)
	if !ok {
		codes.fail(ip)
		return &events.Error{Code: events.CodeUnauthorized, Field: "code", Message: "unknown or expired dashboard code; ask for a new one in the mini-program"}
	}
	if !isStaff(p) { // issue refuses them already
		return &events.Error{Code: events.CodeForbidden, Message: "the dashboard is for staff accounts"}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.session(c, p)
}

// dashboardCSP keeps the page to its own origin: its scripts and styles
// come from /dashboard/assets, its data from the API. ECharts sets inline
// styles on the elements it draws (tooltips), hence 'unsafe-inline' for
// styles only.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func serveDashboard(c *fiber.Ctx) error {
	return sendDashboardFile(c, "index.html")
}

func serveDashboardAsset(c *fiber.Ctx) error {
	name := c.Params("file")
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return events.Errorf(events.CodeNotFound, "no dashboard asset %q", name)
	}
	return sendDashboardFile(c, "assets/"+name)
}

// sendDashboardFile answers with one embedded file, revalidated by its
// ETag (the files change only with the binary).
func sendDashboardFile(c *fiber.Ctx, name string) error {
	f, ok := dashboard.Open(name)
	if !ok {
		return events.Errorf(events.CodeNotFound, "no dashboard file %q", name)
	}
	etag := `"` + hex.EncodeToString(f.SHA256[:8]) + `"`
	c.Set(fiber.HeaderContentType, f.ContentType)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, etag)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set(fiber.HeaderContentSecurityPolicy, dashboardCSP)
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(f.Data)
}
