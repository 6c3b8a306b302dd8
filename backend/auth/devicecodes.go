package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onebook/onebook/events"
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

// DeviceCodes holds the outstanding dashboard codes and the recent failed
// attempts per client IP.
type DeviceCodes struct {
	mu        sync.Mutex
	now       func() time.Time
	codes     map[[sha256.Size]byte]deviceCode // SHA-256 of the code → what it signs in
	bySubject map[string][sha256.Size]byte     // each account's outstanding code
	fails     map[string][]time.Time           // client IP → failed attempts in the window
}

type deviceCode struct {
	p   Principal
	exp time.Time
}

func NewDeviceCodes(now func() time.Time) *DeviceCodes {
	if now == nil {
		now = time.Now
	}
	return &DeviceCodes{now: now, codes: map[[sha256.Size]byte]deviceCode{}, bySubject: map[string][sha256.Size]byte{}, fails: map[string][]time.Time{}}
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

// Issue stores a new code for p, a staff account, replacing p's previous
// one.
func (d *DeviceCodes) Issue(p Principal) (string, time.Time, error) {
	if !slices.Contains(StaffRoles(), p.Role) {
		return "", time.Time{}, &events.Error{Code: events.CodeForbidden, Message: "the dashboard is for staff accounts"}
	}
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
func (d *DeviceCodes) sweep(now time.Time) {
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
func (d *DeviceCodes) recentFails(ip string, now time.Time) int {
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
func (d *DeviceCodes) blocked(ip string) (time.Duration, bool) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.recentFails(ip, now) < DashboardFailLimit {
		return 0, false
	}
	return d.fails[ip][0].Add(DashboardFailWindow).Sub(now), true
}

// Fail records a failed attempt from ip (SignIn does for a bad code; the
// caller does for a request it could not read).
func (d *DeviceCodes) Fail(ip string) {
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
func (d *DeviceCodes) redeem(code string) (Principal, bool) {
	h := sha256.Sum256([]byte(code))
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.codes[h]
	if !ok {
		return Principal{}, false
	}
	delete(d.codes, h)
	if d.bySubject[c.p.Subject] == h {
		delete(d.bySubject, c.p.Subject)
	}
	if !now.Before(c.exp) {
		return Principal{}, false
	}
	return c.p, true
}

// Blocked is the error of SignIn from an address that used up its failed
// attempts: it may try again after Wait.
type Blocked struct{ Wait time.Duration }

func (b *Blocked) Error() string {
	return fmt.Sprintf("too many failed attempts from this address; try again in %d s", int(b.Wait.Seconds())+1)
}

// SignIn redeems a code typed on the dashboard from client address ip and
// returns the principal it signs in. A refused attempt counts against ip; an
// address with DashboardFailLimit of them in DashboardFailWindow gets
// *Blocked until the oldest leaves the window.
func (d *DeviceCodes) SignIn(ip, typed string) (Principal, error) {
	if wait, blocked := d.blocked(ip); blocked {
		return Principal{}, &Blocked{Wait: wait}
	}
	code, ok := normalizeDashboardCode(typed)
	if !ok {
		d.Fail(ip)
		return Principal{}, events.Invalid("code", "a dashboard code has %d letters and digits", DashboardCodeLength)
	}
	p, ok := d.redeem(code)
	if !ok {
		d.Fail(ip)
		return Principal{}, &events.Error{Code: events.CodeUnauthorized, Field: "code", Message: "unknown or expired dashboard code; ask for a new one in the mini-program"}
	}
	return p, nil
}
