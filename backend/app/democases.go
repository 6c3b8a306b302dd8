package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/alertevents"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/events/orgs"
)

// DemoCases adds a fortnight of case reporting to the demo, through the
// same service calls hospitals and CDC staff make, on a simulated clock that
// starts fourteen days ago, in place (Beijing for the single ledger):
// three hospitals in two districts of the province's first city,
// their reporters and reviewers, CDC reviewers at every level, an auditor;
// a steady trickle of influenza, hand-foot-and-mouth disease and diarrhoea
// across four districts; and in the last three days a cluster of
// respiratory illness at one hospital's district, which the engine catches
// (cluster and EARS rules), plus one pneumonia of unknown cause (alerts on
// the first case). Cards climb the review chain; one is returned and
// corrected; CDC staff acknowledge, investigate and close alerts, so the
// alert view shows response times. Like Demo it runs only on an empty
// ledger (Demo's own events aside) and before the alert raiser starts.
func DemoCases(ctx context.Context, place DemoPlace, svc *accounts.Service, cs *cases.Service, warn *alerts.Service, log *slog.Logger) error {
	if len(svc.Orgs(orgs.Hospital, events.National)) > 0 {
		log.Info("case demo skipped: hospitals exist")
		return nil
	}
	d := &caseDemo{rng: rand.New(rand.NewPCG(2020, 5)), start: time.Now().UTC().Add(-14 * 24 * time.Hour).Truncate(time.Hour), warn: warn,
		sys: auth.Principal{Subject: "demo", Role: auth.System, Scope: events.National}, place: place}
	d.now = d.start
	clock := func() time.Time { return d.now }
	d.acc, d.cas, d.al = *svc, *cs, *warn
	d.acc.Now, d.cas.Now, d.al.Now = clock, clock, clock
	d.cas.Filed = nil // the raiser is stepped by hand on the simulated clock
	if err := d.staff(ctx); err != nil {
		return err
	}
	for day := 0; day < 14; day++ {
		if err := d.day(ctx, day); err != nil {
			return err
		}
	}
	if err := d.reviews(ctx); err != nil {
		return err
	}
	// A CDC reviewer reads the unknown-pneumonia card for the investigation.
	for _, c := range d.filed {
		if c.Card.Disease == "pneumonia_unknown" {
			if _, err := d.cas.Read(ctx, d.cdc[place.region("110105")], c.ID, cases.ReadInput{Purpose: "investigation", Reason: "不明原因肺炎病例流调", FullIdentity: true}); err != nil {
				return fmt.Errorf("demo read: %w", err)
			}
		}
	}
	log.Info("case demo data", "hospitals", len(d.hs), "cards", len(d.filed), "alerts", len(warn.Engine.Alerts(events.National, "", "")))
	return nil
}

// caseDemo is the case demo under way: copies of the services whose clock
// is its simulated now, the staff it made and the cards filed so far.
type caseDemo struct {
	rng        *rand.Rand
	start, now time.Time
	acc        accounts.Service
	cas        cases.Service
	al         alerts.Service
	warn       *alerts.Service // the running one, whose engine the demo reads
	sys        auth.Principal
	hs         []demoHospital
	cdc        map[events.Region]auth.Principal
	filed      []cases.Card
	place      DemoPlace
}

type demoHospital struct {
	org                accounts.Org
	reporter, reviewer auth.Principal
	district           events.Region
}

// staff registers the three hospitals with a reporter and a reviewer each,
// CDC reviewers at every level and an auditor.
func (d *caseDemo) staff(ctx context.Context) error {
	for i, h := range []struct {
		name   string
		region events.Region
	}{
		{d.place.name("朝阳医院", "第一人民医院"), d.place.region("110105004")},
		{d.place.name("中日友好医院", "中心医院"), d.place.region("110105011")},
		{d.place.name("海淀医院", "第二人民医院"), d.place.region("110108001")},
	} {
		o, err := d.acc.RegisterOrg(ctx, d.sys, accounts.OrgInput{Kind: orgs.Hospital, Name: h.name, Region: h.region,
			Licence: demoLicence(h.name, d.place.district()), DocsHash: hex.EncodeToString(bytes.Repeat([]byte{byte(i + 1)}, 32)), Approve: true})
		if err != nil {
			return fmt.Errorf("demo hospital: %w", err)
		}
		rep, err := demoOrgStaff(ctx, &d.acc, d.sys, auth.HospitalReporter, o.ID, fmt.Sprintf("demo-reporter-%d", i))
		if err != nil {
			return err
		}
		rev, err := demoOrgStaff(ctx, &d.acc, d.sys, auth.HospitalReviewer, o.ID, fmt.Sprintf("demo-hreviewer-%d", i))
		if err != nil {
			return err
		}
		d.hs = append(d.hs, demoHospital{org: o, reporter: rep, reviewer: rev, district: h.region[:6]})
	}
	d.cdc = map[events.Region]auth.Principal{}
	for _, beijing := range []events.Region{"110105", "110108", "1101", "11", events.National} {
		scope := d.place.region(beijing)
		p, err := demoStaff(ctx, &d.acc, d.sys, auth.CDCReviewer, scope, "demo-cdc-"+string(scope))
		if err != nil {
			return err
		}
		d.cdc[scope] = p
	}
	_, err := demoStaff(ctx, &d.acc, d.sys, auth.Auditor, d.place.region("11"), "demo-auditor")
	return err
}

// file files a card at h at the demo's now and steps the raiser, as the
// running raiser does when woken by a filing.
func (d *caseDemo) file(ctx context.Context, h demoHospital, disease, residence string, symptoms []string, severity string) error {
	demoSurnames := []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	demoGiven := []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"}
	rng := d.rng
	today := events.Day(d.now)
	onset := events.Day(d.now.Add(-time.Duration(24+rng.IntN(48)) * time.Hour))
	birth := time.Date(1940+rng.IntN(75), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	c, err := d.cas.File(ctx, h.reporter, cases.FileInput{
		Patient: cases.Patient{Name: string(demoSurnames[rng.IntN(len(demoSurnames))]) + demoGiven[rng.IntN(len(demoGiven))],
			IDNumber: demoIDNumber(residence[:6], birth, 501+len(d.filed)), Phone: fmt.Sprintf("13%d%08d", 5+rng.IntN(5), rng.IntN(100000000))},
		Card: caseevents.Card{Disease: disease, Diagnosis: []string{caseevents.Clinical, caseevents.Confirmed, caseevents.Suspected}[rng.IntN(3)],
			Onset: onset, Diagnosed: today, Reported: today, Symptoms: symptoms, Residence: events.Region(residence),
			Occupation: caseevents.Occupations()[rng.IntN(len(caseevents.Occupations()))], Severity: severity},
	})
	if err != nil {
		return fmt.Errorf("demo card: %w", err)
	}
	d.filed = append(d.filed, c)
	return d.al.StepOnce(ctx)
}

// at moves the demo's clock to the day's minute of the day.
func (d *caseDemo) at(day int, minute int) {
	d.now = d.start.Add(time.Duration(day)*24*time.Hour + time.Duration(minute)*time.Minute)
}

// day files day's cards — a steady trickle of influenza, hand-foot-and-
// mouth disease and diarrhoea across four districts; from day 11 a cluster
// of respiratory illness around the first hospital (朝阳医院); on day 12 one pneumonia of
// unknown cause — then raises the day's alerts, and the CDC responds.
func (d *caseDemo) day(ctx context.Context, day int) error {
	background := []struct {
		disease  string
		symptoms []string
	}{
		{"influenza", []string{"fever", "cough", "myalgia"}},
		{"hfmd", []string{"fever", "vesicles"}},
		{"other_diarrhoea", []string{"diarrhoea", "abdominal_pain"}},
		{"influenza", []string{"fever", "sore_throat"}},
	}
	districts := []events.Region{d.place.region("110105"), d.place.region("110108"), d.place.region("110101"), d.place.region("110102")}
	rng := d.rng
	for k := 0; k < 2+rng.IntN(3); k++ {
		d.at(day, 8*60+rng.IntN(10*60))
		b := background[rng.IntN(len(background))]
		dist := districts[rng.IntN(len(districts))]
		if err := d.file(ctx, d.hs[rng.IntN(len(d.hs))], b.disease, fmt.Sprintf("%s%03d", dist, 1+rng.IntN(9)), b.symptoms, "mild"); err != nil {
			return err
		}
	}
	if day >= 11 {
		for k := 0; k < 2+2*(day-11); k++ {
			d.at(day, 9*60+rng.IntN(8*60))
			if err := d.file(ctx, d.hs[0], "influenza", fmt.Sprintf("%s%03d", d.place.region("110105"), 4+rng.IntN(2)), []string{"fever", "cough", "dyspnea"},
				[]string{"moderate", "severe"}[rng.IntN(2)]); err != nil {
				return err
			}
		}
	}
	if day == 12 {
		d.at(day, 15*60)
		if err := d.file(ctx, d.hs[1], "pneumonia_unknown", string(d.place.region("110105011")), []string{"fever", "cough", "pneumonia_imaging"}, "severe"); err != nil {
			return err
		}
	}
	d.at(day, 20*60)
	if err := d.al.StepOnce(ctx); err != nil {
		return fmt.Errorf("demo alerts: %w", err)
	}
	return d.respond(ctx)
}

// respond: the CDC acknowledges the day's alerts within hours; older ones
// are investigated and closed, but a first case stays under investigation.
func (d *caseDemo) respond(ctx context.Context) error {
	for _, a := range d.warn.Engine.Alerts(events.National, "", "") {
		p := d.cdc[a.Raised.Region]
		if p.Subject == "" {
			continue // a district without a demo CDC reviewer: stays open
		}
		var err error
		switch a.Status {
		case alerts.StatusNotified:
			d.now = a.RaisedAt.Add(time.Duration(20+d.rng.IntN(100)) * time.Minute)
			_, err = d.al.Acknowledge(ctx, p, a.ID, alerts.StepInput{Note: "已接报，安排流调"})
		case alerts.StatusAcknowledged:
			if a.Raised.Rule == "first-case" {
				break // still under investigation at the end of the demo
			}
			d.now = a.AckedAt.Add(18 * time.Hour)
			if _, err = d.al.Investigate(ctx, p, a.ID, alerts.StepInput{Findings: "流调完成：病例集中于同一社区"}); err == nil && a.Raised.Day < events.Day(d.start.Add(12*24*time.Hour)) {
				_, err = d.al.Close(ctx, p, a.ID, alerts.StepInput{Outcome: alertevents.OutcomeCases, Note: "散发病例，无聚集"})
			}
		}
		if err != nil {
			return fmt.Errorf("demo alert %s: %w", a.ID, err)
		}
	}
	return nil
}

// reviews: hospitals review everything; the CDCs approve most of what
// reached them, one card is returned and corrected.
func (d *caseDemo) reviews(ctx context.Context) error {
	d.now = d.start.Add(14*24*time.Hour - 2*time.Hour)
	returned := false
	for i, c := range d.filed {
		h := d.hs[0]
		for _, x := range d.hs {
			if x.org.ID == c.Hospital {
				h = x
			}
		}
		if _, err := d.cas.Review(ctx, h.reviewer, c.ID, cases.ReviewInput{Decision: caseevents.Approve}); err != nil {
			return fmt.Errorf("demo review: %w", err)
		}
		if i%3 == 2 {
			continue // awaits the district
		}
		district := d.cdc[c.HospitalRegion[:6]]
		if !returned && c.Card.Disease == "hfmd" {
			returned = true
			if _, err := d.cas.Review(ctx, district, c.ID, cases.ReviewInput{Decision: caseevents.Return, Reason: "发病日期与诊断日期需核实"}); err != nil {
				return fmt.Errorf("demo return: %w", err)
			}
			fixed := c.Card
			fixed.Onset = fixed.Diagnosed
			if _, err := d.cas.Correct(ctx, h.reporter, c.ID, cases.CorrectInput{Card: fixed, Note: "发病日期已更正"}); err != nil {
				return fmt.Errorf("demo correction: %w", err)
			}
			continue
		}
		if _, err := d.cas.Review(ctx, district, c.ID, cases.ReviewInput{Decision: caseevents.Approve}); err != nil {
			return fmt.Errorf("demo district review: %w", err)
		}
		if i%2 == 0 {
			if _, err := d.cas.Review(ctx, d.cdc[d.place.region("1101")], c.ID, cases.ReviewInput{Decision: caseevents.Approve}); err != nil {
				return fmt.Errorf("demo city review: %w", err)
			}
		}
	}
	return nil
}

func demoOrgStaff(ctx context.Context, svc *accounts.Service, sys auth.Principal, role auth.Role, org, openID string) (auth.Principal, error) {
	ns, err := svc.AddStaff(ctx, sys, accounts.StaffInput{Role: string(role), Org: org, Label: "demo " + string(role)})
	if err != nil {
		return auth.Principal{}, err
	}
	return svc.BindStaff(ctx, demoOpenID(openID), ns.InviteCode)
}

// demoLicence makes a valid unified social credit code (GB 32100) from a
// name: registration authority 9 (industry and commerce), type 1, the
// division code (the demo's district), a number from the name's hash and
// the check character.
func demoLicence(name string, division events.Region) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	sum := sha256.Sum256([]byte(name))
	b := []byte("91" + string(division))
	for i := 0; len(b) < 17; i++ {
		b = append(b, alphabet[int(sum[i])%10])
	}
	for _, c := range []byte(alphabet) {
		if s := string(b) + string(c); orgs.ValidLicence(s) {
			return s
		}
	}
	return ""
}
