// Package api is how clients talk to onebook: the HTTP JSON API served with
// Fiber to the mini-program, the scanner phones and staff dashboards, and the
// public ledger endpoints that let anyone check what onebook recorded.
//
// Handlers are thin: decode and validate the request, call the domain, map
// the result. Errors are *events.Error values mapped to HTTP statuses in one
// place (errorHandler); internal details are logged, never shown.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/audit"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/communities"
	"github.com/onebook/onebook/backend/consent"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/backend/national"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/tracing"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
)

// MaxBodySize is the largest request body accepted (an offline batch of 500
// scans fits comfortably); larger bodies get 413.
const MaxBodySize = 1 << 20

// Ledger is what the public ledger endpoints need from the seal.
type Ledger interface {
	// Latest returns the latest signed checkpoint note and what it says.
	Latest(ctx context.Context) (note []byte, size uint64, root tlog.Hash, err error)
	ProveInclusion(ctx context.Context, index, size uint64) (tlog.Hash, tlog.RecordProof, error)
	ProveConsistency(ctx context.Context, oldSize, newSize uint64) (tlog.TreeProof, error)
	// VerifierKey is the checkpoint signer's public key in signed-note
	// verifier-key format.
	VerifierKey() string
}

// Cosignatures is what the witness endpoints need from the seal: witnesses
// (another party: a city CDC, an auditor) cosign checkpoints after checking
// them against the last one they cosigned (see events/seal.Cosignatures).
type Cosignatures interface {
	// Add verifies a checkpoint note cosigned by configured witnesses and
	// stores their cosignatures; it returns the tree size and the names of
	// the witnesses whose cosignatures were stored.
	Add(ctx context.Context, cosigned []byte) (size uint64, witnesses []string, err error)
	// Attach returns the signed checkpoint note of tree size size with the
	// stored cosignatures appended as further signature lines.
	Attach(ctx context.Context, note []byte, size uint64) ([]byte, error)
	// NoteAt returns the published checkpoint of tree size size with its
	// cosignatures; CodeNotFound if none of exactly that size was published.
	NoteAt(ctx context.Context, size uint64) ([]byte, error)
}

// Health reports the state of the service for /healthz and /readyz.
type Health interface {
	Health(ctx context.Context) HealthStatus
}

// HealthStatus is the body of /healthz and /readyz. Both are public, so it
// says ok or degraded per component and how far the ledger, the seal and
// each projection have come, never the text of an error (which names hosts,
// ports, files and queries): the causes go to the log.
type HealthStatus struct {
	Ready       bool               `json:"ready"`
	Components  Components         `json:"components"`
	Ledger      LedgerStatus       `json:"ledger"`
	Projections []ProjectionStatus `json:"projections"`
	States      []StateStatus      `json:"states,omitempty"`
}

// StateStatus describes one in-memory decision state of this replica.
type StateStatus struct {
	Name string `json:"name"`
	Seq  uint64 `json:"seq"` // last ledger sequence applied
	// Snapshot is the sequence of the snapshot the state was restored from
	// at start; 0: it read the ledger from the first event.
	Snapshot uint64 `json:"snapshot"`
}

// Component is the state of one dependency as /healthz shows it.
type Component string

const (
	OK       Component = "ok"
	Degraded Component = "degraded"
)

// Components are the dependencies of a backend. Ready needs NATS, the
// ledger and the store; a degraded seal delays checkpoints but loses
// nothing.
type Components struct {
	NATS   Component `json:"nats"`   // the connection to the NATS servers
	Ledger Component `json:"ledger"` // the ledger stream answers
	Seal   Component `json:"seal"`   // the latest checkpoint can be read
	Store  Component `json:"store"`  // the MongoDB document store answers
}

// LedgerStatus describes the ledger and its seal.
type LedgerStatus struct {
	Size       uint64 `json:"size"`        // events in the stream
	SealedSize uint64 `json:"sealed_size"` // events covered by the latest checkpoint
	RootHash   string `json:"root_hash"`   // base64, of the latest checkpoint
	SealLag    uint64 `json:"seal_lag"`
}

// ProjectionStatus describes one projection's progress.
type ProjectionStatus struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Seq     int64  `json:"seq"`
	Lag     uint64 `json:"lag"`
	// Status is degraded while the projector fails (it retries, or it
	// halted on an event it cannot fold); why is in the log.
	Status Component `json:"status"`
	// CaughtUp: this process runs the projector and it has read all there
	// is (a projection with no events yet stays at seq 0).
	CaughtUp bool `json:"caught_up"`
}

// Config wires the API to the rest of onebook.
type Config struct {
	Ledger  Ledger
	Events  events.Reader
	Health  Health
	Metrics *Metrics // nil: no /metrics
	// MetricsToken opens /metrics on this listener to a caller presenting
	// it as a bearer token; empty: /metrics answers 404 here (serve
	// Metrics.Handler on a listener of its own).
	MetricsToken string
	Log          *slog.Logger

	// RequestTimeout is the server-side deadline of every request, on its
	// UserContext; ExportTimeout that of an export, which reads the ledger
	// and writes a whole bundle before it answers. Zero: no deadline.
	RequestTimeout, ExportTimeout time.Duration

	// Witness cosignatures of checkpoints; nil: none are accepted and
	// checkpoints are served as signed by onebook alone.
	Cosignatures Cosignatures

	// Accounts: sign-in, households, staff and organisations; and the
	// entry/exit pass service built on them.
	Sessions *auth.Sessions
	Accounts *accounts.Service
	Passes   *passes.Service
	WeChat   WeChat
	PassKeys PassKeys
	Contacts Contacts
	// Subscriptions: what each account holder consented to be sent
	// (WeChat subscribe messages); nil: the routes answer 503.
	Subscriptions Subscriptions
	Tracing       *tracing.Service
	Views         Views
	// Communities answers staff's reads of the pass views.
	Communities *communities.Service
	// Audit answers auditors' reads of the access views.
	Audit *audit.Service

	// Case reporting and early warning.
	Cases  *cases.Service
	Alerts *alerts.Service

	// Material donations.
	Donations *donations.Service
	// National, in the national cell (NewLog), serves the national views
	// folded from the provinces' aggregates; nil: none.
	National *national.Service

	// Verifiable export bundles.
	Exports Exporter

	// Answers to requests with an Idempotency-Key; nil: the header is
	// ignored.
	Idempotency Idempotency

	// Limits per client and per account (zero: none), and the addresses of
	// the reverse proxies whose X-Forwarded-For names the client. Limiter,
	// if set, counts instead of one of the app's own (NewLimiter(Limits)):
	// the cells of a process share one.
	Limits         Limits
	Limiter        *Limiter
	TrustedProxies []string

	// The stored hash tiles, for the C2SP tlog-tiles routes; nil: not
	// served.
	Tiles Tiles
}

// Contacts keeps what is needed to reach an account holder (their WeChat
// openid) outside the ledger, so that erasure can remove it.
type Contacts interface {
	Remember(ctx context.Context, subject, openID string) error
	Forget(ctx context.Context, subject string) error
}

// Subscriptions records which WeChat subscribe messages an account holder
// consented to (the answers of wx.requestSubscribeMessage) and lists them;
// notifications go out only against a recorded acceptance.
type Subscriptions interface {
	Subscriptions(ctx context.Context, p auth.Principal) ([]consent.View, error)
	RecordConsent(ctx context.Context, p auth.Principal, answers map[string]string) ([]consent.View, error)
}

// New returns the Fiber app with every route mounted.
func New(cfg Config) *fiber.App {
	app, h := newApp(cfg)
	h.ledgerRoutes(app)
	h.passRoutes(app)
	h.govRoutes(app)
	h.viewRoutes(app)
	h.caseRoutes(app)
	h.donationRoutes(app)
	h.exportRoutes(app)
	h.dashboardRoutes(app)
	app.Use(notFound)
	return app
}

// NewLog returns the Fiber app of a ledger with no services on it (the
// national cell of a deployment with a ledger per province): health, the
// ledger's checkpoints, proofs and public events, and its C2SP tlog-tiles.
// Its Config needs Ledger, Events, Health and Tiles; Idempotency and
// Cosignatures are optional.
func NewLog(cfg Config) *fiber.App {
	app, h := newApp(cfg)
	h.ledgerRoutes(app)
	h.nationalRoutes(app)
	app.Use(notFound)
	return app
}

// newApp is the Fiber app with its middleware and health routes, and the
// handlers the routes of New and NewLog are methods of.
func newApp(cfg Config) (*fiber.App, *handlers) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	fc := fiber.Config{
		AppName:               "onebook",
		BodyLimit:             MaxBodySize,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ErrorHandler:          errorHandler(cfg.Log),
	}
	if len(cfg.TrustedProxies) > 0 {
		// The client's address is the X-Forwarded-For of a listed proxy,
		// and the socket's for everyone else: never a header a client
		// chose.
		fc.ProxyHeader, fc.EnableTrustedProxyCheck, fc.TrustedProxies, fc.EnableIPValidation =
			fiber.HeaderXForwardedFor, true, cfg.TrustedProxies, true
	}
	app := fiber.New(fc)
	app.Use(recover.New())
	lim := cfg.Limiter
	if lim == nil {
		lim = NewLimiter(cfg.Limits)
	}
	for _, l := range lim.handlers {
		app.Use(l)
	}
	if cfg.Metrics != nil {
		app.Use(cfg.Metrics.middleware)
		app.Get("/metrics", cfg.Metrics.publicHandler(cfg.MetricsToken))
	}
	h := &handlers{cfg: cfg, bundles: seal.NewBundles(cfg.Events, 0)}
	app.Use(h.deadline)
	if cfg.Idempotency != nil {
		app.Use(idempotent(cfg.Idempotency, cfg.Log))
	}
	app.Get("/healthz", h.healthz)
	app.Get("/readyz", h.readyz)
	app.Get("/openapi.json", serveOpenAPI)
	return app, h
}

// ledgerRoutes serve the ledger's checkpoints, proofs and public events,
// and the C2SP tlog-tiles.
func (h *handlers) ledgerRoutes(app *fiber.App) {
	led := app.Group("/ledger")
	led.Get("/checkpoint", h.checkpoint)
	led.Get("/key", h.key)
	led.Post("/cosignatures", h.cosign)
	led.Get("/proof/inclusion", h.inclusion)
	led.Get("/proof/consistency", h.consistency)
	led.Get("/events/:index", h.event)
	h.tileRoutes(app)
}

// notFound is the answer of a route that does not exist.
func notFound(c *fiber.Ctx) error {
	return events.Errorf(events.CodeNotFound, "no route %s %s", c.Method(), c.Path())
}

// retryAfter is the Retry-After of every 503: a dependency is down or
// stalled, or the request ran out of time.
const retryAfter = "5"

// deadline runs the request under a server-side deadline on its
// UserContext, so that a stalled ledger or store cannot hold it forever:
// the calls waiting on them end with the context, and the request answers
// 503 with Retry-After. An export (GET /exports/{view}) gets the longer
// ExportTimeout: it reads the ledger up to the latest checkpoint and
// writes the whole bundle before the answer starts.
func (h *handlers) deadline(c *fiber.Ctx) error {
	d := h.cfg.RequestTimeout
	if strings.HasPrefix(strings.ToLower(c.Path()), "/exports/") { // routes match case-insensitively
		d = h.cfg.ExportTimeout
	}
	if d <= 0 {
		return c.Next()
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), d)
	defer cancel()
	c.SetUserContext(ctx)
	err := c.Next()
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && statusOfErr(err) >= 500 {
		return &events.Error{Code: events.CodeUnavailable, Message: fmt.Sprintf("the request did not finish within %s; retry later", d), Err: err}
	}
	return err
}

type handlers struct {
	cfg     Config
	bundles *seal.Bundles // the entry bundles of cfg.Events, full ones cached
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    events.Code `json:"code"`
	Field   string      `json:"field,omitempty"`
	Message string      `json:"message"`
}

// statuses maps error codes to HTTP statuses, in this one place; a
// function so that nothing can change it at run time.
func statuses() []struct {
	code   events.Code
	status int
} {
	return []struct {
		code   events.Code
		status int
	}{
		{events.CodeInvalid, fiber.StatusBadRequest},
		{events.CodeUnauthorized, fiber.StatusUnauthorized},
		{events.CodeForbidden, fiber.StatusForbidden},
		{events.CodeNotFound, fiber.StatusNotFound},
		{events.CodeConflict, fiber.StatusConflict},
		{events.CodeDuplicate, fiber.StatusConflict},
		{events.CodeTooLarge, fiber.StatusRequestEntityTooLarge},
		{events.CodeTooMany, fiber.StatusTooManyRequests},
		{events.CodeUnavailable, fiber.StatusServiceUnavailable},
	}
}

// statusOf is the HTTP status of an error code.
func statusOf(c events.Code) int {
	for _, m := range statuses() {
		if m.code == c {
			return m.status
		}
	}
	return fiber.StatusInternalServerError
}

func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var (
			e  *events.Error
			fe *fiber.Error
		)
		detail := errorDetail{Code: events.CodeInternal, Message: "internal error"}
		status := statusOfErr(err)
		switch {
		case errors.As(err, &e):
			detail = errorDetail{Code: e.Code, Field: e.Field, Message: e.Message}
			if e.Code == events.CodeInternal {
				detail.Message = "internal error"
			}
		case errors.As(err, &fe):
			// Fiber's own errors: body too large, bad method, ...
			detail = errorDetail{Code: codeOfStatus(fe.Code), Message: fe.Message}
		}
		if status >= 500 {
			log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", status, "err", err)
		}
		if status == fiber.StatusServiceUnavailable && c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, retryAfter)
		}
		return c.Status(status).JSON(errorBody{Error: detail})
	}
}

func statusOfErr(err error) int {
	var (
		e  *events.Error
		fe *fiber.Error
	)
	switch {
	case errors.As(err, &e):
		return statusOf(e.Code)
	case errors.As(err, &fe):
		return fe.Code
	}
	return fiber.StatusInternalServerError
}

// codeOfStatus is the error code of one of Fiber's own HTTP errors.
func codeOfStatus(status int) events.Code {
	for _, m := range statuses() {
		if m.status == status && m.code != events.CodeDuplicate {
			return m.code
		}
	}
	if status >= 400 && status < 500 {
		return events.CodeInvalid
	}
	return events.CodeInternal
}
