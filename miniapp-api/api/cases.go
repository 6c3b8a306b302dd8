package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
)

// caseRoutes are case reporting (hospitals, CDC reviewers), early warning
// (CDC staff, government analysts), organisations (admins) and the
// data-use audit (auditors).
func (h *handlers) caseRoutes(app *fiber.App) {
	authd := authenticate(h.cfg.Sessions)
	app.Get("/cases/catalogue", h.catalogue)
	app.Post("/orgs", authd, h.registerOrg)
	app.Get("/orgs", authd, h.listOrgs)
	app.Post("/orgs/:org/approval", authd, h.approveOrg)

	app.Post("/cases", authd, h.fileCase)
	app.Get("/cases", authd, h.listCases)
	app.Get("/cases/counts", authd, h.caseCounts)
	app.Get("/cases/compare", authd, h.compare)
	app.Get("/cases/:case", authd, h.readCase)
	app.Put("/cases/:case", authd, h.correctCase)
	app.Post("/cases/:case/reviews", authd, h.reviewCase)

	app.Get("/alerts", authd, h.listAlerts)
	app.Get("/alerts/:alert", authd, h.getAlert)
	app.Post("/alerts/:alert/acknowledgement", authd, h.alertStep(h.cfg.Alerts.Acknowledge))
	app.Post("/alerts/:alert/investigation", authd, h.alertStep(h.cfg.Alerts.Investigate))
	app.Post("/alerts/:alert/closure", authd, h.alertStep(h.cfg.Alerts.Close))
	app.Get("/rules", authd, h.listRules)
	app.Put("/rules/:rule", authd, h.publishRule)

	app.Get("/audit/cases/:case", authd, h.auditCase)
	app.Get("/audit/staff/:staff", authd, h.auditStaff)
}

// catalogue is public: what a card may say.
func (h *handlers) catalogue(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"diseases": caseevents.Diseases(), "symptoms": caseevents.Symptoms(), "groups": caseevents.Groups(),
		"occupations": caseevents.Occupations(), "severities": caseevents.Severities(), "levels": caseevents.Levels(),
		"purposes": cases.Purposes(), "rule_methods": alertevents.Methods(), "outcomes": alertevents.Outcomes()})
}

func (h *handlers) registerOrg(c *fiber.Ctx) error {
	var in accounts.OrgInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.checkText(c, map[string]string{"name": in.Name}); err != nil {
		return err
	}
	o, err := h.cfg.Accounts.RegisterOrg(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, o)
}

func (h *handlers) approveOrg(c *fiber.Ctx) error {
	var in struct {
		Note string `json:"note"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	o, err := h.cfg.Accounts.ApproveOrg(c.UserContext(), principal(c), c.Params("org"), in.Note)
	if err != nil {
		return err
	}
	return c.JSON(o)
}

func (h *handlers) listOrgs(c *fiber.Ctx) error {
	list, err := h.cfg.Accounts.ListOrgs(principal(c), c.Query("kind"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"orgs": list})
}

func (h *handlers) fileCase(c *fiber.Ctx) error {
	var in cases.FileInput
	if err := decode(c, &in); err != nil {
		return err
	}
	card, err := h.cfg.Cases.File(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, card)
}

func (h *handlers) correctCase(c *fiber.Ctx) error {
	var in cases.CorrectInput
	if err := decode(c, &in); err != nil {
		return err
	}
	card, err := h.cfg.Cases.Correct(c.UserContext(), principal(c), c.Params("case"), in)
	if err != nil {
		return err
	}
	return c.JSON(card)
}

func (h *handlers) reviewCase(c *fiber.Ctx) error {
	var in cases.ReviewInput
	if err := decode(c, &in); err != nil {
		return err
	}
	card, err := h.cfg.Cases.Review(c.UserContext(), principal(c), c.Params("case"), in)
	if err != nil {
		return err
	}
	return c.JSON(card)
}

// queryBool parses an optional boolean query parameter.
func queryBool(c *fiber.Ctx, name string) (bool, error) {
	v := c.Query(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, events.Invalid(name, "must be true or false")
	}
	return b, nil
}

func (h *handlers) readCase(c *fiber.Ctx) error {
	full, err := queryBool(c, "full_identity")
	if err != nil {
		return err
	}
	v, err := h.cfg.Cases.Read(c.UserContext(), principal(c), c.Params("case"),
		cases.ReadInput{Purpose: c.Query("purpose"), Reason: c.Query("reason"), FullIdentity: full})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

func (h *handlers) listCases(c *fiber.Ctx) error {
	in := cases.ListInput{Status: c.Query("status"), Level: c.Query("level"), Region: events.Region(c.Query("region")),
		From: c.Query("from"), To: c.Query("to"), Purpose: c.Query("purpose"), Reason: c.Query("reason")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > cases.MaxList {
			return events.Invalid("limit", "must be 1 to %d", cases.MaxList)
		}
		in.Limit = n
	}
	list, accessID, err := h.cfg.Cases.List(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if wantsCSV(c) {
		rows := [][]string{{"id", "status", "level", "round", "hospital", "hospital_region", "filed", "disease", "diagnosis",
			"onset", "diagnosed", "reported", "residence", "symptoms", "groups", "occupation", "severity", "patient_name", "patient_id_number", "access_event"}}
		for _, v := range list {
			k := v.Card.Card
			rows = append(rows, []string{v.ID, v.Status, v.Level, strconv.Itoa(v.Round), v.Hospital, string(v.HospitalRegion),
				v.Filed.UTC().Format(time.RFC3339), k.Disease, k.Diagnosis, k.Onset, k.Diagnosed, k.Reported, string(k.Residence),
				strings.Join(k.Symptoms, " "), strings.Join(v.Groups, " "), k.Occupation, k.Severity, v.PatientName, v.PatientIDNumber, accessID})
		}
		return sendRows(c, "cases.csv", rows)
	}
	if list == nil {
		list = []cases.CardView{}
	}
	return c.JSON(fiber.Map{"cases": list, "access_event": accessID})
}

// regionParam parses a required region query parameter.
func regionParam(c *fiber.Ctx, name string) (events.Region, error) {
	r, err := events.ParseRegion(c.Query(name))
	if err != nil {
		return "", events.Invalid(name, "query parameter %s must be a region code (2, 4 or 6 digits, or CN)", name)
	}
	return r, nil
}

// caseCounts serves the daily counts of a region: region-level numbers,
// no row-level case data.
func (h *handlers) caseCounts(c *fiber.Ctx) error {
	region, err := regionParam(c, "region")
	if err != nil {
		return err
	}
	counts, err := h.cfg.Cases.Counts(c.UserContext(), principal(c), region, c.Query("from"), c.Query("to"))
	if err != nil {
		return err
	}
	days := counts.Days
	if wantsCSV(c) {
		rows := [][]string{{"region", "day", "total", "kind", "code", "count"}}
		for _, d := range days {
			rows = append(rows, []string{string(region), d.Day, strconv.FormatInt(d.Total, 10), "total", "", strconv.FormatInt(d.Total, 10)})
			for _, k := range sortedKeys(d.Diseases) {
				rows = append(rows, []string{string(region), d.Day, strconv.FormatInt(d.Total, 10), "disease", k, strconv.FormatInt(d.Diseases[k], 10)})
			}
			for _, k := range sortedKeys(d.Groups) {
				rows = append(rows, []string{string(region), d.Day, strconv.FormatInt(d.Total, 10), "group", k, strconv.FormatInt(d.Groups[k], 10)})
			}
		}
		return sendRows(c, "case-counts.csv", rows)
	}
	return c.JSON(fiber.Map{"region": region, "from": counts.From, "to": counts.To, "days": days})
}

func (h *handlers) compare(c *fiber.Ctx) error {
	region, err := regionParam(c, "region")
	if err != nil {
		return err
	}
	target := c.Query("target", alertevents.TargetGroup)
	list, err := h.cfg.Alerts.Compare(c.UserContext(), principal(c), region, target, c.Query("code"), c.Query("day"), c.Query("by"))
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		rows := [][]string{{"rank", "region", "count", "last7", "c1", "c2", "c3"}}
		for i, r := range list {
			rows = append(rows, []string{strconv.Itoa(i + 1), string(r.Region), num(r.Count), num(r.Last7), optNum(r.C1), optNum(r.C2), optNum(r.C3)})
		}
		return sendRows(c, "compare.csv", rows)
	}
	return c.JSON(fiber.Map{"parent": region, "target": target, "code": c.Query("code"), "regions": list})
}

func (h *handlers) listAlerts(c *fiber.Ctx) error {
	var region events.Region
	if c.Query("region") != "" {
		r, err := regionParam(c, "region")
		if err != nil {
			return err
		}
		region = r
	}
	sum, err := h.cfg.Alerts.List(c.UserContext(), principal(c), region, c.Query("status"))
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		rows := [][]string{{"id", "status", "rule", "rule_version", "method", "target", "code", "region", "day", "observed", "statistic",
			"threshold", "cases", "trigger", "filed_at", "raised_at", "acknowledged_at", "closed_at", "outcome", "file_to_alert_s", "alert_to_ack_s"}}
		for _, a := range sum.Alerts {
			r := a.Raised
			ack := ""
			if !a.AckedAt.IsZero() {
				ack = num(a.AckedAt.Sub(a.RaisedAt).Seconds())
			}
			rows = append(rows, []string{a.ID, a.Status, r.Rule, strconv.Itoa(r.RuleVersion), r.Method, r.Target, r.Code, string(r.Region), r.Day,
				num(r.Observed), num(r.Statistic), num(r.Threshold), strconv.Itoa(len(r.Cases) + r.MoreCases), r.Trigger,
				stamp(r.FiledAt), stamp(a.RaisedAt), stamp(a.AckedAt), stamp(a.ClosedAt), a.Outcome, num(a.RaisedAt.Sub(r.FiledAt).Seconds()), ack})
		}
		return sendRows(c, "alerts.csv", rows)
	}
	return c.JSON(sum)
}

func (h *handlers) getAlert(c *fiber.Ctx) error {
	a, err := h.cfg.Alerts.Get(c.UserContext(), principal(c), c.Params("alert"))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (h *handlers) alertStep(f func(ctx context.Context, p auth.Principal, id string, in alerts.StepInput) (alerts.Alert, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var in alerts.StepInput
		if err := decode(c, &in); err != nil {
			return err
		}
		a, err := f(c.UserContext(), principal(c), c.Params("alert"), in)
		if err != nil {
			return err
		}
		return c.JSON(a)
	}
}

func (h *handlers) listRules(c *fiber.Ctx) error {
	rules, err := h.cfg.Alerts.Rules(principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"rules": rules})
}

func (h *handlers) publishRule(c *fiber.Ctx) error {
	var in alerts.RuleInput
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := h.cfg.Alerts.PublishRule(c.UserContext(), principal(c), c.Params("rule"), in)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// auditCase answers "who read this case's data, when, for what purpose".
func (h *handlers) auditCase(c *fiber.Ctx) error {
	reads, err := h.cfg.Audit.Case(c.UserContext(), principal(c), c.Params("case"))
	if err != nil {
		return err
	}
	return c.JSON(reads)
}

// auditStaff answers "what case data did this staff member read".
func (h *handlers) auditStaff(c *fiber.Ctx) error {
	staff := c.Params("staff")
	to := c.Query("to", events.Day(time.Now()))
	from := c.Query("from", to)
	days, err := h.cfg.Audit.Staff(c.UserContext(), principal(c), staff, from, to)
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		rows := [][]string{{"staff", "day", "time", "role", "what", "purpose", "identity", "cases"}}
		for _, d := range days {
			for _, r := range d.Reads {
				rows = append(rows, []string{staff, d.Day, r.Time, r.Role, r.What, r.Purpose, r.Identity, strings.Join(r.Subjects, " ")})
			}
		}
		return sendRows(c, "staff-reads.csv", rows)
	}
	return c.JSON(fiber.Map{"staff": staff, "from": from, "to": to, "days": days})
}

// sendRows sends rows as CSV, neutralising cells a spreadsheet would
// run as formulas.
func sendRows(c *fiber.Ctx, name string, rows [][]string) error {
	var b bytes.Buffer
	b.WriteString("\ufeff") // Excel opens UTF-8 CSV correctly only with a BOM
	w := csv.NewWriter(&b)
	for _, r := range rows {
		for i, s := range r {
			if _, err := strconv.ParseFloat(s, 64); err != nil && s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
				r[i] = "'" + s
			}
		}
		if err := w.Write(r); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return sendCSV(c, name, b.Bytes())
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func optNum(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
