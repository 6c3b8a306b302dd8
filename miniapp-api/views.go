package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/projections"
	views "github.com/onebook/onebook/projections/passes"
)

// Views is what the view routes read: the projections store, and a way to
// show a person's masked name (each such read of personal data is logged).
type Views struct {
	Docs projections.DocStore
	// MaskedNames returns the masked names of persons, recording the read
	// as an access event of the principal.
	MaskedNames func(ctx context.Context, p auth.Principal, what string, persons []string) (map[string]string, error)
}

func (h *handlers) viewRoutes(app *fiber.App) {
	authd := authenticate(h.cfg.Sessions)
	app.Get("/communities/:community/inside", authd, h.inside)
	app.Get("/communities/:community/daily", authd, h.daily)
	app.Get("/communities/:community/denied", authd, h.denied)
	app.Get("/communities/:community/gate-hours", authd, h.gateHours)
	app.Get("/regions/:city/flows", authd, h.flows)
}

// community checks the path's community and the caller's right to view it.
func community(c *fiber.Ctx) (events.Region, error) {
	r, err := events.ParseRegion(c.Params("community"))
	if err != nil || len(r) != 12 {
		return "", events.Invalid("community", "community must be a 12-digit region code")
	}
	return r, auth.Authorize(principal(c), auth.ActCommunityView, r)
}

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

// InsideRow is one person inside, with a masked name.
type InsideRow struct {
	Pass   string `json:"pass"`
	Person string `json:"person"`
	Name   string `json:"name_masked"`
	Gate   string `json:"gate"`
	Since  string `json:"since"`
}

func (h *handlers) inside(c *fiber.Ctx) error {
	r, err := community(c)
	if err != nil {
		return err
	}
	in, _, err := views.ReadInside(c.UserContext(), h.cfg.Views.Docs, string(r))
	if err != nil {
		return err
	}
	persons := make([]string, 0, len(in.Inside))
	for _, e := range in.Inside {
		persons = append(persons, e.Person)
	}
	names, err := h.cfg.Views.MaskedNames(c.UserContext(), principal(c), "view.inside", persons)
	if err != nil {
		return err
	}
	rows := make([]InsideRow, 0, len(in.Inside))
	for pass, e := range in.Inside {
		rows = append(rows, InsideRow{Pass: pass, Person: e.Person, Name: names[e.Person], Gate: e.Gate, Since: e.Since})
	}
	return c.JSON(fiber.Map{"community": r, "inside": rows, "count": in.Count + in.Unlisted, "unlisted": in.Unlisted})
}

func (h *handlers) daily(c *fiber.Ctx) error {
	return h.dayView(c, func(ctx context.Context, r events.Region, d time.Time) (any, error) {
		s, _, err := views.ReadDaily(ctx, h.cfg.Views.Docs, string(r), d)
		return s, err
	})
}

func (h *handlers) denied(c *fiber.Ctx) error {
	return h.dayView(c, func(ctx context.Context, r events.Region, d time.Time) (any, error) {
		s, _, err := views.ReadDenied(ctx, h.cfg.Views.Docs, string(r), d)
		return s, err
	})
}

// dayView answers a view of one community on one day (?date=).
func (h *handlers) dayView(c *fiber.Ctx, read func(context.Context, events.Region, time.Time) (any, error)) error {
	r, err := community(c)
	if err != nil {
		return err
	}
	d, err := day(c, "date")
	if err != nil {
		return err
	}
	out, err := read(c.UserContext(), r, d)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (h *handlers) gateHours(c *fiber.Ctx) error {
	r, err := community(c)
	if err != nil {
		return err
	}
	d, err := day(c, "date")
	if err != nil {
		return err
	}
	var gates []string
	for _, g := range h.cfg.Passes.State.Gates(r) {
		gates = append(gates, g.ID)
	}
	out, err := views.ReadGateHours(c.UserContext(), h.cfg.Views.Docs, gates, d)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"community": r, "hours": out})
}

func (h *handlers) flows(c *fiber.Ctx) error {
	city, err := events.ParseRegion(c.Params("city"))
	if err != nil || len(city) != 4 {
		return events.Invalid("city", "city must be a 4-digit region code")
	}
	// A city-wide analyst sees all of the city's flows; a district analyst
	// sees the flows into and out of their district.
	p := principal(c)
	district := ""
	if len(p.Scope) > len(city) && city.Covers(p.Scope) {
		if err := auth.Authorize(p, auth.ActFlows, p.Scope); err != nil {
			return err
		}
		district = string(p.Scope)[:min(6, len(p.Scope))]
	} else if err := auth.Authorize(p, auth.ActFlows, city); err != nil {
		return err
	}
	from, err := day(c, "from")
	if err != nil {
		return err
	}
	to, err := day(c, "to")
	if err != nil {
		return err
	}
	rows, err := views.ReadFlows(c.UserContext(), h.cfg.Views.Docs, string(city), from, to)
	if err != nil {
		return err
	}
	kept := []views.FlowRow{}
	for _, r := range rows {
		if district == "" || r.From == district || r.To == district {
			kept = append(kept, r)
		}
	}
	rows = kept
	return c.JSON(fiber.Map{"city": city, "flows": rows})
}
