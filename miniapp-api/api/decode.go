package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
)

// decode reads the JSON body into v strictly: unknown fields, trailing data
// and wrong types are refused with an error naming the field.
func decode(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return events.Invalid("", "a JSON body is required")
	}
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return events.Invalid("", "content type must be application/json, got %q", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var pe *time.ParseError
		if errors.As(err, &pe) {
			if f := timeField(body, v); f != "" {
				return events.Invalid(f, "%s must be an RFC 3339 time such as 2026-11-25T08:00:00+08:00: %v", f, pe)
			}
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return events.Invalid("", "unexpected data after the JSON value")
	}
	return nil
}

// timeField names the top-level time.Time field of the struct v points to
// whose value in body does not parse: the decoder reports a time's parse
// error without the field it was in.
func timeField(body []byte, v any) string {
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return ""
	}
	t := reflect.TypeOf(v)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return ""
	}
	for f := range t.Elem().Fields() {
		if f.Type != reflect.TypeFor[time.Time]() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if r, ok := raw[name]; ok {
			var tm time.Time
			if json.Unmarshal(r, &tm) != nil {
				return name
			}
		}
	}
	return ""
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return events.Invalid("", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		f := jsonPath(typ.Field)
		return events.Invalid(f, "%s must be %s, got %s", orBody(f), typ.Type.String(), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return events.Invalid("", "malformed JSON: unexpected end of input")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return events.Invalid(f, "unknown field %q", f)
	}
	// time.Time and other TextUnmarshalers report their own problems.
	return events.Invalid("", "invalid JSON: %v", err)
}

// jsonPath drops the names of embedded Go structs (capitalised; JSON names
// here never are) from a decoder's field path: lots.Line.quantity is the
// request's lots.quantity.
func jsonPath(f string) string {
	parts := strings.Split(f, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

func orBody(f string) string {
	if f == "" {
		return "the body"
	}
	return f
}

// principal is the authenticated caller of a request (set by authenticate).
func principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(principalKey{}).(auth.Principal)
	return p
}

type principalKey struct{}

// authenticate requires a valid bearer session token.
func authenticate(s *auth.Sessions) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := c.Get(fiber.HeaderAuthorization)
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return &events.Error{Code: events.CodeUnauthorized, Message: "an Authorization: Bearer session token is required"}
		}
		p, err := s.Verify(tok)
		if err != nil {
			return err
		}
		c.Locals(principalKey{}, p)
		return c.Next()
	}
}

func created(c *fiber.Ctx, v any) error { return c.Status(fiber.StatusCreated).JSON(v) }
