package api

import (
	"bytes"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/tracing"
)

// govRoutes are the government staff's: tracing queries, each recorded in
// the ledger as an access event before any data is returned.
func (h *handlers) govRoutes(app *fiber.App) {
	authd := authenticate(h.cfg.Sessions)
	app.Post("/trace/gates", authd, h.traceGates)
	app.Post("/trace/person", authd, h.tracePerson)
	app.Post("/trace/case", authd, h.traceCase)
}

// wantsCSV reports whether the caller asked for CSV (?format=csv).
func wantsCSV(c *fiber.Ctx) bool { return c.Query("format") == "csv" }

func (h *handlers) traceGates(c *fiber.Ctx) error {
	var q tracing.GateQuery
	if err := decode(c, &q); err != nil {
		return err
	}
	t, err := h.cfg.Tracing.TraceGate(c.UserContext(), principal(c), q)
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		var b bytes.Buffer
		if err := tracing.WriteGateTraceCSV(&b, t); err != nil {
			return err
		}
		return sendCSV(c, "gate-trace.csv", b.Bytes())
	}
	return c.JSON(t)
}

func (h *handlers) tracePerson(c *fiber.Ctx) error {
	var q tracing.PersonQuery
	if err := decode(c, &q); err != nil {
		return err
	}
	t, err := h.cfg.Tracing.TracePerson(c.UserContext(), principal(c), q)
	return sendPersonTrace(c, "person-trace.csv", t, err)
}

func (h *handlers) traceCase(c *fiber.Ctx) error {
	var q tracing.CaseQuery
	if err := decode(c, &q); err != nil {
		return err
	}
	t, err := h.cfg.Tracing.TraceCase(c.UserContext(), principal(c), q)
	return sendPersonTrace(c, "case-trace.csv", t, err)
}

// sendPersonTrace answers a person trace as JSON, or as CSV named name.
func sendPersonTrace(c *fiber.Ctx, name string, t tracing.PersonTrace, err error) error {
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		var b bytes.Buffer
		if err := tracing.WritePersonTraceCSV(&b, t); err != nil {
			return err
		}
		return sendCSV(c, name, b.Bytes())
	}
	return c.JSON(t)
}

func sendCSV(c *fiber.Ctx, name string, b []byte) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b)
}
