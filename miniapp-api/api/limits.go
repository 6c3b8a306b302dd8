package api

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/onebook/onebook/events"
)

// Limits bound what one client (by address: the socket's, or the
// X-Forwarded-For of a trusted proxy) and one account (by session) may
// call per minute. Each replica counts on its own (Fiber's limiter, in
// memory): behind a load balancer of n replicas a client gets up to n
// times the limit, which bounds abuse all the same. Zero: no limit.
type Limits struct {
	SignIn  int // sign-in, staff binding, dashboard codes: per client
	Client  int // every request: per client
	Account int // state-changing requests: per session
}

// DefaultLimits are generous for a gate whose scanners share an address
// and tight where a stranger guesses (sign-in codes, invite codes).
func DefaultLimits() Limits { return Limits{SignIn: 30, Client: 1200, Account: 600} }

// A Limiter counts what each client and each account calls against its
// Limits. An app has one of its own unless its Config gives one: the
// cells of a deployment with a ledger per province share the process's
// (api.Mount serves them on one listener), so that a client gets its limit
// once, not once per cell, and its counts keep the keys of a single ledger
// (the client's address, the session).
type Limiter struct {
	handlers []fiber.Handler
}

// NewLimiter returns a Limiter of l.
func NewLimiter(l Limits) *Limiter { return &Limiter{handlers: limits(l)} }

// limits returns the limiter middlewares of l.
func limits(l Limits) []fiber.Handler {
	tooMany := func(c *fiber.Ctx) error {
		return &events.Error{Code: events.CodeTooMany, Message: "too many requests; retry after the time in Retry-After"}
	}
	var out []fiber.Handler
	if l.Client > 0 {
		out = append(out, limiter.New(limiter.Config{Max: l.Client, Expiration: time.Minute, LimitReached: tooMany,
			// A load balancer's health probes are not a client's traffic.
			Next:         func(c *fiber.Ctx) bool { p := c.Path(); return p == "/healthz" || p == "/readyz" },
			KeyGenerator: func(c *fiber.Ctx) string { return "client:" + c.IP() }}))
	}
	if l.SignIn > 0 {
		out = append(out, limiter.New(limiter.Config{Max: l.SignIn, Expiration: time.Minute, LimitReached: tooMany,
			Next: func(c *fiber.Ctx) bool {
				return !strings.HasPrefix(c.Path(), "/auth/") || c.Method() == fiber.MethodGet
			},
			KeyGenerator: func(c *fiber.Ctx) string { return "signin:" + c.IP() }}))
	}
	if l.Account > 0 {
		out = append(out, limiter.New(limiter.Config{Max: l.Account, Expiration: time.Minute, LimitReached: tooMany,
			Next: func(c *fiber.Ctx) bool {
				m := c.Method()
				return c.Get(fiber.HeaderAuthorization) == "" || m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
			},
			KeyGenerator: func(c *fiber.Ctx) string {
				sum := sha256.Sum256([]byte(c.Get(fiber.HeaderAuthorization)))
				return "account:" + hex.EncodeToString(sum[:16])
			}}))
	}
	return out
}
