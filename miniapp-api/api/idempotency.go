package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/events"
)

// Retries never duplicate (IETF httpapi draft "The Idempotency-Key HTTP
// Header Field"): a state-changing request that carries an
// Idempotency-Key is answered once; a retry with the same key and the same
// request gets the first answer again and appends nothing, the same key
// with another request is 422. The answers live in a store shared by every
// replica that survives a restart (a JetStream KV bucket with a 24 h TTL),
// keyed by the caller's credentials, the key, and nothing a stranger can
// choose to collide with another caller's.

// IdempotencyHeader is the request header.
const IdempotencyHeader = "Idempotency-Key"

// maxRecordedBody bounds what is kept of an answer: state-changing answers
// are small; a larger one is not replayed (a retry is then refused as in
// progress until the record expires).
const maxRecordedBody = 1 << 20

// Recorded is a request's first answer, or its claim while in progress.
type Recorded struct {
	Request     string `json:"request"` // SHA-256 of method, path and body
	Done        bool   `json:"done"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// Idempotency stores the answers to requests with an Idempotency-Key.
type Idempotency interface {
	// Claim records r (not done) under key unless something is recorded
	// there; it returns what was recorded first (ok false if r was).
	Claim(ctx context.Context, key string, r Recorded) (first Recorded, ok bool, err error)
	// Finish replaces the claim by the answer.
	Finish(ctx context.Context, key string, r Recorded) error
	// Release forgets a claim whose request failed on the server's side,
	// so that a retry runs again.
	Release(ctx context.Context, key string) error
}

// idempotent is the middleware of state-changing requests.
func idempotent(store Idempotency, log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get(IdempotencyHeader)
		if !stateChanging(c.Method()) || key == "" {
			return c.Next()
		}
		if len(key) > 255 || !printable(key) {
			return events.Invalid(IdempotencyHeader, "an idempotency key is 1 to 255 printable ASCII characters")
		}
		ctx := c.UserContext()
		// The key is the caller's: two callers' equal keys never meet. A
		// signed-in caller is its session (a phone that retries from
		// another network keeps it); an anonymous one its address.
		caller := c.Get(fiber.HeaderAuthorization)
		if caller == "" {
			caller = "ip:" + c.IP()
		}
		who := sha256.Sum256([]byte(caller + "\x00" + key))
		id := hex.EncodeToString(who[:])
		req := sha256.New()
		req.Write([]byte(c.Method() + "\x00" + c.Path() + "\x00"))
		req.Write(c.Body())
		mine := Recorded{Request: hex.EncodeToString(req.Sum(nil))}
		first, claimed, err := store.Claim(ctx, id, mine)
		if err != nil {
			return &events.Error{Code: events.CodeUnavailable, Message: "the idempotency store is unavailable; retry", Err: err}
		}
		if !claimed {
			switch {
			case first.Request != mine.Request:
				c.Status(fiber.StatusUnprocessableEntity)
				return c.JSON(errorBody{Error: errorDetail{Code: events.CodeInvalid, Field: IdempotencyHeader,
					Message: "this idempotency key was used for another request: use a new key for a new request"}})
			case !first.Done:
				c.Set(fiber.HeaderRetryAfter, "1")
				return &events.Error{Code: events.CodeConflict, Field: IdempotencyHeader, Message: "a request with this idempotency key is in progress; retry later"}
			}
			c.Set("Idempotent-Replayed", "true")
			if first.ContentType != "" {
				c.Set(fiber.HeaderContentType, first.ContentType)
			}
			return c.Status(first.Status).Send(first.Body)
		}
		if err := c.Next(); err != nil {
			// Render the error now, so that its answer is what is recorded.
			if herr := c.App().Config().ErrorHandler(c, err); herr != nil {
				return herr
			}
		}
		status := c.Response().StatusCode()
		body := c.Response().Body()
		// A server-side failure is not an answer: let a retry run again.
		if status >= 500 || len(body) > maxRecordedBody {
			if err := store.Release(context.WithoutCancel(ctx), id); err != nil {
				log.Warn("idempotency claim not released: retries wait for it to expire", "err", err)
			}
			return nil
		}
		mine.Done, mine.Status, mine.ContentType, mine.Body = true, status, string(c.Response().Header.ContentType()), append([]byte(nil), body...)
		// The request took effect: record its answer even if the caller
		// has gone (a response cut after the append is the case this is for).
		if err := store.Finish(context.WithoutCancel(ctx), id, mine); err != nil {
			// The answer stands; a retry finds the claim in progress until
			// it expires, which is safe (nothing runs twice).
			log.Warn("idempotent answer not recorded", "err", err)
		}
		return nil
	}
}

// stateChanging reports whether requests of method may carry an
// Idempotency-Key; the OpenAPI document declares the header on exactly
// these operations (TestOpenAPIDeclaresIdempotencyKey).
func stateChanging(method string) bool {
	switch method {
	case fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete:
		return true
	}
	return false
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
