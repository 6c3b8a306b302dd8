package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/national"
)

// nationalRoutes are the national cell's views (backend/national), fed
// only by the provinces' aggregate events: public by design, like the
// log they fold (national.Service says why), so no sign-in.
func (h *handlers) nationalRoutes(app *fiber.App) {
	if h.cfg.National == nil {
		return
	}
	app.Get("/cases", h.nationalCases)
	app.Get("/flows", h.nationalFlows)
	app.Get("/donations", h.nationalDonations)
	app.Get("/alerts", h.nationalAlerts)
}

func nationalRange(c *fiber.Ctx) national.Range {
	return national.Range{From: c.Query("from"), To: c.Query("to")}
}

func (h *handlers) nationalCases(c *fiber.Ctx) error {
	out, err := h.cfg.National.Cases(c.UserContext(), nationalRange(c))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (h *handlers) nationalFlows(c *fiber.Ctx) error {
	out, err := h.cfg.National.Flows(c.UserContext(), nationalRange(c))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (h *handlers) nationalDonations(c *fiber.Ctx) error {
	out, err := h.cfg.National.Donations(c.UserContext(), nationalRange(c))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (h *handlers) nationalAlerts(c *fiber.Ctx) error {
	out, err := h.cfg.National.Alerts(c.UserContext(), nationalRange(c))
	if err != nil {
		return err
	}
	return c.JSON(out)
}
