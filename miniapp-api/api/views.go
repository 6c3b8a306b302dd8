package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/projections"
)

// Views is what the case and audit routes read: the projections store.
type Views struct {
	Docs projections.DocStore
}

func (h *handlers) viewRoutes(app *fiber.App) {
	authd := authenticate(h.cfg.Sessions)
	app.Get("/communities/:community/inside", authd, h.inside)
	app.Get("/communities/:community/daily", authd, h.daily)
	app.Get("/communities/:community/denied", authd, h.denied)
	app.Get("/communities/:community/gate-hours", authd, h.gateHours)
	app.Get("/regions/:city/flows", authd, h.flows)
}

// community reads the path's community.
func community(c *fiber.Ctx) events.Region { return events.Region(c.Params("community")) }

// day reads ?date=YYYY-MM-DD as a China Standard Time day; default today.
func day(c *fiber.Ctx, name string) (time.Time, error) {
	s := c.Query(name)
	if s == "" {
		return time.Now().In(events.China()), nil
	}
	d, err := time.ParseInLocation("2006-01-02", s, events.China())
	if err != nil {
		return time.Time{}, events.Invalid(name, "%s must be a date YYYY-MM-DD, got %q", name, s)
	}
	return d, nil
}

func (h *handlers) inside(c *fiber.Ctx) error {
	in, err := h.cfg.Communities.Inside(c.UserContext(), principal(c), community(c))
	if err != nil {
		return err
	}
	return c.JSON(in)
}

func (h *handlers) daily(c *fiber.Ctx) error {
	d, err := day(c, "date")
	if err != nil {
		return err
	}
	out, err := h.cfg.Communities.Daily(c.UserContext(), principal(c), community(c), d)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (h *handlers) denied(c *fiber.Ctx) error {
	d, err := day(c, "date")
	if err != nil {
		return err
	}
	out, err := h.cfg.Communities.Denied(c.UserContext(), principal(c), community(c), d)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (h *handlers) gateHours(c *fiber.Ctx) error {
	d, err := day(c, "date")
	if err != nil {
		return err
	}
	out, err := h.cfg.Communities.GateHours(c.UserContext(), principal(c), community(c), d)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"community": community(c), "hours": out})
}

func (h *handlers) flows(c *fiber.Ctx) error {
	from, err := day(c, "from")
	if err != nil {
		return err
	}
	to, err := day(c, "to")
	if err != nil {
		return err
	}
	city := events.Region(c.Params("city"))
	rows, err := h.cfg.Communities.Flows(c.UserContext(), principal(c), city, from, to)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"city": city, "flows": rows})
}
