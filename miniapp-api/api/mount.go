package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/events"
)

// Cell is the API of one ledger of a deployment with a ledger per
// province, and where it is mounted.
type Cell struct {
	Name   string     // partition.Name: "p31", "nation"
	Prefix string     // partition.Prefix: "/p/31", "/national"
	App    *fiber.App // New (a province) or NewLog (the nation)
	Health Health
}

// CellsHealth is the body of the root /healthz and /readyz of a
// partitioned process: ready once every cell is.
type CellsHealth struct {
	Ready bool                    `json:"ready"`
	Cells map[string]HealthStatus `json:"cells"`
}

// Mount serves every cell's API under its prefix on one listener: a
// request for /p/31/passes/... reaches cell 31's app as /passes/..., so
// that each app, its routes, sessions, limits and idempotency keys are
// exactly those of a single ledger, and a cell sees no request meant for
// another. The root answers /healthz and /readyz for the whole process
// (ready once every cell is) and 404 elsewhere. The cells' apps share the
// listener's limits (body size, timeouts, trusted proxies), taken from
// the first cell's configuration: every cell is built with the same.
func Mount(cells []Cell) *fiber.App {
	root := fiber.New(cells[0].App.Config())
	health := func(c *fiber.Ctx) error {
		h := CellsHealth{Ready: true, Cells: map[string]HealthStatus{}}
		for _, cell := range cells {
			st := cell.Health.Health(c.UserContext())
			h.Ready = h.Ready && st.Ready
			h.Cells[cell.Name] = st
		}
		if !h.Ready && c.Path() == "/readyz" {
			c.Status(fiber.StatusServiceUnavailable)
		}
		return c.JSON(h)
	}
	root.Get("/healthz", health)
	root.Get("/readyz", health)
	handlers := make([]func(*fiber.Ctx), len(cells))
	for i, cell := range cells {
		h := cell.App.Handler()
		handlers[i] = func(c *fiber.Ctx) { h(c.Context()) }
	}
	root.Use(func(c *fiber.Ctx) error {
		path := c.Path()
		for i, cell := range cells {
			rest, ok := strings.CutPrefix(path, cell.Prefix)
			if !ok || (rest != "" && rest[0] != '/') {
				continue
			}
			if rest == "" {
				rest = "/"
			}
			c.Request().URI().SetPath(rest)
			handlers[i](c)
			return nil
		}
		var prefixes []string
		for _, cell := range cells {
			prefixes = append(prefixes, cell.Prefix+"/")
		}
		return events.Errorf(events.CodeNotFound, "no route %s %s: each ledger's API is under its prefix, one of %s", c.Method(), path, strings.Join(prefixes, ", "))
	})
	return root
}
