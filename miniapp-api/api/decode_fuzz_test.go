package api

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/events/orgs"
)

// FuzzDecodeBodies feeds arbitrary request bodies to the strict JSON
// decoder for the request types clients send: the answer is a value or a
// 400 naming the problem, never a panic or a 5xx. The bodies of case
// reporting and early warning are also checked as their services first
// check them (the card, the review, the organisation, the lifecycle step,
// the rule), so that any value the decoder lets through reaches the
// validators. So are the bodies of material donations (the need, its
// update and closure, the pledge, the hop, the receipt, the review, the
// consumption), each passed to the Validate of the event its service
// builds from it.
func FuzzDecodeBodies(f *testing.F) {
	f.Add(`{"scan_id":"a","token":"OB1.x","gate":"g","direction":"in","scanned_at":"2026-02-01T00:00:00Z"}`)
	f.Add(`{"scans":[{"scan_id":"a"}]}`)
	f.Add(`{"community":"110105001001","building":"3","members":[{"name":"张三","id_number":"11010519491231002X","phone":"13800138000"}]}`)
	f.Add(`{"person_id":"p","temperature":"hot"}`)
	f.Add(`{"a":1} trailing`)
	f.Add(`[`)
	card := `{"disease":"plague","diagnosis":"confirmed","onset":"2026-02-01","diagnosed":"2026-02-02","reported":"2026-02-02",` +
		`"symptoms":["fever","cough"],"residence":"110105","occupation":"farmer","severity":"severe"}`
	f.Add(`{"patient":{"name":"王伟","id_number":"11010519491231002X","phone":"13800138000"},"card":` + card + `}`)
	f.Add(`{"card":` + card + `,"note":"更正发病日期","patient":null}`)
	f.Add(`{"card":{"onset":"2026-02-31","symptoms":[null,"cough","cough"],"residence":1101}}`)
	f.Add(`{"decision":"return","reason":"日期有误"}`)
	f.Add(`{"kind":"hospital","name":"朝阳医院","region":"110105","licence":"91110000MA01234567","docs_hash":"00","approve":true}`)
	f.Add(`{"note":"已接报","findings":"无续发","outcome":"false_alarm"}`)
	f.Add(`{"rule":{"method":"cluster","target":"group","codes":["respiratory"],"level":6,"k":5,"days":3,"enabled":true},"reason":"调整"}`)
	f.Add(`{"rule":{"method":"percentile","target":"disease","codes":["influenza"],"level":4,"p":1e400,"period":-1},"reason":"x"}`)
	f.Add(`{"item":"mask_n95","spec":"N95","quantity":10000,"urgency":"critical","deliver_to":"南楼物资库","region":"110105","valid_until":"2026-03-01T00:00:00Z"}`)
	f.Add(`{"quantity":-1,"urgency":"low","valid_until":"2026-02-30T00:00:00Z","note":"加急"}`)
	f.Add(`{"reason":"已满足"}`)
	f.Add(`{"need":"n-1","lines":[{"item":"mask_n95","spec":"N95","quantity":6000},{"item":"gloves","spec":"M","quantity":1e19}],"note":"第一批","display_name":"一位老兵"}`)
	f.Add(`{"to":{"org":"o-1","unit":"呼吸科"},"lots":[{"item":"mask_n95","spec":"N95","quantity":4000,"batch":"B1"},{"item":"mask_n95","spec":"N95","quantity":2000,"batch":"B1"}],"via":"顺丰 SF123"}`)
	f.Add(`{"lots":[{"item":"mask_n95","spec":"N95","quantity":0,"batch":"-B1"}],"condition":"damaged","photo_hash":"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08","note":"一箱破损"}`)
	f.Add(`{"verdict":"inconsistent","note":"10只去向不明"}`)
	f.Add(`{"item":"mask_n95","spec":"N95","quantity":5,"day":"2026-02-03","unit":"ICU"}`)
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(slog.Default())})
	var paths []string
	route := func(path string, v func() any, check ...func(v any) error) {
		paths = append(paths, path)
		app.Post(path, func(c *fiber.Ctx) error {
			x := v()
			if err := decode(c, x); err != nil {
				return err
			}
			for _, ch := range check {
				if err := ch(x); err != nil {
					return err
				}
			}
			return c.SendStatus(200)
		})
	}
	route("/scan", func() any { return new(passes.ScanInput) })
	route("/batch", func() any { return new(struct{ Scans []passes.ScanInput }) })
	route("/register", func() any { return new(accounts.RegisterInput) })
	route("/declare", func() any { return new(passes.DeclareInput) })
	route("/visit", func() any { return new(passes.VisitInput) })
	route("/cases", func() any { return new(cases.FileInput) }, func(v any) error { return v.(*cases.FileInput).Card.Validate() })
	route("/correct", func() any { return new(cases.CorrectInput) }, func(v any) error { return v.(*cases.CorrectInput).Card.Validate() })
	route("/review", func() any { return new(cases.ReviewInput) }, func(v any) error {
		in := v.(*cases.ReviewInput)
		return caseevents.Reviewed{Level: caseevents.LevelHospital, Decision: in.Decision, Reason: in.Reason, Round: 1}.Validate()
	})
	route("/orgs", func() any { return new(accounts.OrgInput) }, func(v any) error {
		in := v.(*accounts.OrgInput)
		return orgs.Registered{Kind: in.Kind, Name: in.Name, Region: in.Region, Licence: in.Licence, DocsHash: in.DocsHash}.Validate()
	})
	type approval struct {
		Note string `json:"note"`
	}
	route("/approval", func() any { return new(approval) }, func(v any) error { return orgs.Approved{Note: v.(*approval).Note}.Validate() })
	route("/step", func() any { return new(alerts.StepInput) }, func(v any) error {
		in := v.(*alerts.StepInput)
		if err := (alertevents.Acknowledged{Note: in.Note}).Validate(); err != nil {
			return err
		}
		if err := (alertevents.Investigated{Findings: in.Findings}).Validate(); err != nil {
			return err
		}
		return alertevents.Closed{Outcome: in.Outcome, Note: in.Note}.Validate()
	})
	route("/rules", func() any { return new(alerts.RuleInput) }, func(v any) error {
		in := v.(*alerts.RuleInput)
		return alertevents.RulePublished{Version: 1, Rule: in.Rule, Reason: in.Reason}.Validate()
	})
	// Donations: what the services put in the event around the body is
	// fixed here (an organisation, hop and round 1, a region when none).
	from := donationevents.Party{Kind: donationevents.PartyOrg, ID: "o-fuzz", Name: "模糊测试慈善会"}
	route("/needs", func() any { return new(donations.NeedInput) }, func(v any) error {
		in := v.(*donations.NeedInput)
		if in.Region == "" {
			in.Region = events.Region("110105")
		}
		return donationevents.NeedPublished{Hospital: "o-fuzz", Line: donationevents.Line{Item: in.Item, Spec: in.Spec, Quantity: in.Quantity}, Urgency: in.Urgency,
			DeliverTo: strings.TrimSpace(in.DeliverTo), Region: in.Region, ValidUntil: in.ValidUntil.UTC()}.Validate()
	})
	route("/need-update", func() any { return new(donations.NeedUpdate) }, func(v any) error {
		in := v.(*donations.NeedUpdate)
		return donationevents.NeedUpdated{Quantity: in.Quantity, Urgency: in.Urgency, ValidUntil: in.ValidUntil.UTC(), Note: strings.TrimSpace(in.Note)}.Validate()
	})
	type closure struct {
		Reason string `json:"reason"`
	}
	route("/need-closure", func() any { return new(closure) }, func(v any) error {
		return donationevents.NeedClosed{Reason: strings.TrimSpace(v.(*closure).Reason)}.Validate()
	})
	route("/pledge", func() any { return new(donations.PledgeInput) }, func(v any) error {
		in := v.(*donations.PledgeInput)
		return donationevents.Pledged{Donor: donationevents.Party{Kind: donationevents.PartyPerson, ID: "u-fuzz", Name: strings.TrimSpace(in.DisplayName)}, Need: in.Need, Lines: in.Lines, Note: strings.TrimSpace(in.Note)}.Validate()
	})
	route("/dispatch", func() any { return new(donations.DispatchInput) }, func(v any) error {
		in := v.(*donations.DispatchInput)
		return donationevents.Dispatched{Hop: 1, From: from, To: donationevents.Receiver{Org: in.To.Org, Unit: strings.TrimSpace(in.To.Unit)}, Lots: in.Lots, Via: strings.TrimSpace(in.Via)}.Validate()
	})
	route("/receipt", func() any { return new(donations.ReceiveInput) }, func(v any) error {
		in := v.(*donations.ReceiveInput)
		return donationevents.Received{Hop: 1, Lots: in.Lots, Condition: in.Condition, PhotoHash: strings.ToLower(in.PhotoHash), Note: strings.TrimSpace(in.Note)}.Validate()
	})
	route("/donation-review", func() any { return new(donations.ReviewInput) }, func(v any) error {
		in := v.(*donations.ReviewInput)
		return donationevents.Reviewed{Round: 1, Verdict: in.Verdict, Note: strings.TrimSpace(in.Note)}.Validate()
	})
	route("/consumption", func() any { return new(donations.ConsumeInput) }, func(v any) error {
		in := v.(*donations.ConsumeInput)
		return donationevents.Consumed{Line: donationevents.Line{Item: in.Item, Spec: in.Spec, Quantity: in.Quantity}, Day: in.Day, Unit: strings.TrimSpace(in.Unit)}.Validate()
	})
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range paths {
			req := httptest.NewRequest("POST", path, bytes.NewReader([]byte(body)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 && resp.StatusCode != 400 {
				t.Fatalf("%s %q: %d %s", path, body, resp.StatusCode, b)
			}
		}
	})
}
