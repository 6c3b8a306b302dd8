package api

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
)

// donationRoutes are material donations: public disclosure without sign-in,
// hospitals' needs, pledges, handovers, consumption, reviews, supervision.
func (h *handlers) donationRoutes(app *fiber.App) {
	authd := authenticate(h.cfg.Sessions)
	app.Get("/donations/catalogue", h.donationCatalogue)
	app.Get("/public/needs", h.publicNeeds)
	app.Get("/public/donations", h.publicDonations)
	app.Get("/public/donations/:donation", h.publicTrace)

	app.Post("/needs", authd, h.publishNeed)
	app.Put("/needs/:need", authd, h.updateNeed)
	app.Post("/needs/:need/closure", authd, h.closeNeed)
	app.Post("/donations", authd, h.pledge)
	app.Post("/donations/:donation/hops", authd, h.dispatch)
	app.Post("/donations/:donation/hops/:hop/receipt", authd, h.confirmHop)
	app.Post("/donations/:donation/reviews", authd, h.reviewDonation)
	app.Post("/stock/consumption", authd, h.consume)
	app.Get("/orgs/:org/stock", authd, h.stock)
	app.Get("/supervision/donations", authd, h.supervise)
}

func (h *handlers) donationCatalogue(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"items": donationevents.Catalogue()})
}

// PublicDonation is a donation as the public list shows it.
type PublicDonation struct {
	ID      string                `json:"id"`
	Donor   string                `json:"donor"` // organisation name or the individual's display name
	Need    string                `json:"need,omitempty"`
	Lines   []donationevents.Line `json:"lines"`
	Status  string                `json:"status"`
	Hops    int                   `json:"hops"`
	Pledged time.Time             `json:"pledged"`
	Region  events.Region         `json:"region"`
}

func publicDonation(d donations.Donation) PublicDonation {
	return PublicDonation{ID: d.ID, Donor: d.Donor.Name, Need: d.Need, Lines: d.Lines, Status: d.Status(), Hops: len(d.Hops), Pledged: d.Pledged, Region: d.Region}
}

// publicNeeds lists the open needs, most urgent first: no sign-in.
func (h *handlers) publicNeeds(c *fiber.Ctx) error {
	region, item, err := publicFilter(c)
	if err != nil {
		return err
	}
	now := time.Now()
	list := h.cfg.Donations.State.Needs(func(n donations.Need) bool {
		return n.Open(now) && (region == "" || region.Covers(n.Region)) && (item == "" || n.Line.Item == item)
	})
	if list == nil {
		list = []donations.Need{}
	}
	names := map[string]string{}
	for _, n := range list {
		if o, ok := h.cfg.Donations.Org(n.Hospital); ok {
			names[n.Hospital] = o.Name
		}
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=10")
	return c.JSON(fiber.Map{"needs": list, "orgs": names})
}

func publicFilter(c *fiber.Ctx) (events.Region, string, error) {
	var region events.Region
	if c.Query("region") != "" {
		r, err := regionParam(c, "region")
		if err != nil {
			return "", "", err
		}
		region = r
	}
	item := c.Query("item")
	if item != "" {
		if _, ok := donationevents.LookupItem(item); !ok {
			return "", "", events.Invalid("item", "unknown item %q", item)
		}
	}
	return region, item, nil
}

// MaxPublicList bounds the public donation list.
const MaxPublicList = 500

// publicDonations lists donations, newest first: no sign-in.
func (h *handlers) publicDonations(c *fiber.Ctx) error {
	region, item, err := publicFilter(c)
	if err != nil {
		return err
	}
	need := c.Query("need")
	list := h.cfg.Donations.State.Donations(func(d *donations.Donation) bool {
		if region != "" && !region.Covers(d.Region) {
			return false
		}
		if need != "" && d.Need != need {
			return false
		}
		if item != "" {
			for _, l := range d.Lines {
				if l.Item == item {
					return true
				}
			}
			return false
		}
		return true
	})
	if len(list) > MaxPublicList {
		list = list[:MaxPublicList]
	}
	out := make([]PublicDonation, len(list))
	for i, d := range list {
		out[i] = publicDonation(d)
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=10")
	return c.JSON(fiber.Map{"donations": out})
}

// publicTrace is a donation's full trace with an inclusion proof for every
// step against the latest signed checkpoint: no sign-in.
func (h *handlers) publicTrace(c *fiber.Ctx) error {
	t, err := h.cfg.Donations.Trace(c.UserContext(), c.Params("donation"))
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (h *handlers) publishNeed(c *fiber.Ctx) error {
	var in donations.NeedInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.checkText(c, map[string]string{"deliver_to": in.DeliverTo}); err != nil {
		return err
	}
	n, err := h.cfg.Donations.PublishNeed(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, n)
}

func (h *handlers) updateNeed(c *fiber.Ctx) error {
	var in donations.NeedUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	n, err := h.cfg.Donations.UpdateNeed(c.UserContext(), principal(c), c.Params("need"), in)
	if err != nil {
		return err
	}
	return c.JSON(n)
}

func (h *handlers) closeNeed(c *fiber.Ctx) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	n, err := h.cfg.Donations.CloseNeed(c.UserContext(), principal(c), c.Params("need"), in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(n)
}

func (h *handlers) pledge(c *fiber.Ctx) error {
	var in donations.PledgeInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.checkText(c, map[string]string{"note": in.Note, "display_name": in.DisplayName}); err != nil {
		return err
	}
	d, err := h.cfg.Donations.Pledge(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, d)
}

func (h *handlers) dispatch(c *fiber.Ctx) error {
	var in donations.DispatchInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.checkText(c, map[string]string{"via": in.Via, "to.unit": in.To.Unit}); err != nil {
		return err
	}
	d, err := h.cfg.Donations.Dispatch(c.UserContext(), principal(c), c.Params("donation"), in)
	if err != nil {
		return err
	}
	return created(c, d)
}

func (h *handlers) confirmHop(c *fiber.Ctx) error {
	hop, err := strconv.Atoi(c.Params("hop"))
	if err != nil || hop < 1 {
		return events.Invalid("hop", "the hop number must be a positive integer, not %q", c.Params("hop"))
	}
	var in donations.ReceiveInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.checkText(c, map[string]string{"note": in.Note}); err != nil {
		return err
	}
	d, err := h.cfg.Donations.Confirm(c.UserContext(), principal(c), c.Params("donation"), hop, in)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (h *handlers) reviewDonation(c *fiber.Ctx) error {
	var in donations.ReviewInput
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := h.cfg.Donations.Review(c.UserContext(), principal(c), c.Params("donation"), in)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (h *handlers) consume(c *fiber.Ctx) error {
	var in donations.ConsumeInput
	if err := decode(c, &in); err != nil {
		return err
	}
	st, err := h.cfg.Donations.Consume(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (h *handlers) stock(c *fiber.Ctx) error {
	st, err := h.cfg.Donations.StockOf(principal(c), c.Params("org"))
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		rows := [][]string{{"org", "item", "spec", "received", "consumed", "on_hand", "days_left", "day", "consumed_that_day"}}
		for _, s := range st {
			days := make([]string, 0, len(s.Daily))
			for d := range s.Daily {
				days = append(days, d)
			}
			slices.Sort(days)
			base := []string{s.Org, s.Item, s.Spec, i64(s.Received), i64(s.Consumed), i64(s.OnHand), optNum(s.DaysLeft)}
			if len(days) == 0 {
				rows = append(rows, append(base, "", ""))
			}
			for _, d := range days {
				rows = append(rows, append(append([]string(nil), base...), d, i64(s.Daily[d])))
			}
		}
		return sendRows(c, "stock.csv", rows)
	}
	return c.JSON(fiber.Map{"org": c.Params("org"), "stock": st})
}

func (h *handlers) supervise(c *fiber.Ctx) error {
	in := donations.SuperviseInput{Org: c.Query("org"), Item: c.Query("item"), From: c.Query("from"), To: c.Query("to")}
	if c.Query("region") != "" {
		r, err := regionParam(c, "region")
		if err != nil {
			return err
		}
		in.Region = r
	}
	list, err := h.cfg.Donations.Supervise(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		rows := [][]string{{"donation", "pledged", "region", "donor_kind", "donor", "need", "status", "hop", "from", "to", "unit", "item", "spec", "batch", "dispatched", "received", "flags", "reviews", "escalated"}}
		for _, d := range list {
			reviews := make([]string, len(d.Reviews))
			for i, r := range d.Reviews {
				reviews[i] = r.Verdict
			}
			base := []string{d.ID, stamp(d.Pledged), string(d.Region), d.Donor.Kind, d.Donor.Name, d.Need, d.Status()}
			tail := []string{strings.Join(reviews, " "), d.Escalated}
			if len(d.Hops) == 0 {
				for _, l := range d.Lines {
					rows = append(rows, concat(base, []string{"0", "", "", "", l.Item, l.Spec, "", i64(l.Quantity), "", ""}, tail))
				}
			}
			for _, hop := range d.Hops {
				recv := map[string]int64{}
				var flags string
				if hop.Receipt != nil {
					for _, l := range hop.Receipt.Lots {
						recv[l.Item+"|"+l.Spec+"|"+l.Batch] += l.Quantity
					}
					flags = strings.Join(hop.Receipt.Flags, " ")
				}
				for _, l := range hop.Lots {
					r := ""
					if hop.Receipt != nil {
						r = i64(recv[l.Item+"|"+l.Spec+"|"+l.Batch])
					}
					rows = append(rows, concat(base, []string{strconv.Itoa(hop.N), hop.From.Name, hop.To.Org, hop.To.Unit, l.Item, l.Spec, l.Batch, i64(l.Quantity), r, flags}, tail))
				}
			}
		}
		return sendRows(c, "donations.csv", rows)
	}
	return c.JSON(fiber.Map{"donations": list})
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }
