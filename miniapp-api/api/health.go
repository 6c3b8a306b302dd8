package api

import "github.com/gofiber/fiber/v2"

// healthz answers 200 while the process serves requests, with the ledger and
// projection status for humans and dashboards.
func (h *handlers) healthz(c *fiber.Ctx) error {
	return c.JSON(h.cfg.Health.Health(c.UserContext()))
}

// readyz answers 503 until the ledger and the document store are reachable,
// so a load balancer sends no traffic to an instance that cannot append.
func (h *handlers) readyz(c *fiber.Ctx) error {
	st := h.cfg.Health.Health(c.UserContext())
	if !st.Ready {
		c.Status(fiber.StatusServiceUnavailable)
	}
	return c.JSON(st)
}
