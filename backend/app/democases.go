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
// starts fourteen days ago: three hospitals in two districts of Beijing,
// their reporters and reviewers, CDC reviewers at every level, an auditor;
// a steady trickle of influenza, hand-foot-and-mouth disease and diarrhoea
// across four districts; and in the last three days a cluster of
// respiratory illness at one hospital's district, which the engine catches
// (cluster and EARS rules), plus one pneumonia of unknown cause (alerts on
// the first case). Cards climb the review chain; one is returned and
// corrected; CDC staff acknowledge, investigate and close alerts, so the
// alert view shows response times. Like Demo it runs only on an empty
// ledger (Demo's own events aside) and before the alert raiser starts.
func DemoCases(ctx context.Context, svc *accounts.Service, cs *cases.Service, warn *alerts.Service, log *slog.Logger) error {
	if len(svc.Orgs(orgs.Hospital, events.National)) > 0 {
		log.Info("case demo skipped: hospitals exist")
		return nil
	}
	rng := rand.New(rand.NewPCG(2020, 5))
	start := time.Now().UTC().Add(-14 * 24 * time.Hour).Truncate(time.Hour)
	now := start
	clock := func() time.Time { return now }
	acc, cas, al := *svc, *cs, *warn
	acc.Now, cas.Now, al.Now = clock, clock, clock
	cas.Filed = nil // the raiser is stepped by hand on the simulated clock
	sys := auth.Principal{Subject: "demo", Role: auth.System, Scope: events.National}

	type hospital struct {
		org                accounts.Org
		reporter, reviewer auth.Principal
		district           events.Region
	}
	var hs []hospital
	for i, h := range []struct {
		name   string
		region events.Region
	}{{"朝阳医院", "110105004"}, {"中日友好医院", "110105011"}, {"海淀医院", "110108001"}} {
		o, err := acc.RegisterOrg(ctx, sys, accounts.OrgInput{Kind: orgs.Hospital, Name: h.name, Region: h.region,
			Licence: demoLicence(h.name), DocsHash: hex.EncodeToString(bytes.Repeat([]byte{byte(i + 1)}, 32)), Approve: true})
		if err != nil {
			return fmt.Errorf("demo hospital: %w", err)
		}
		rep, err := demoOrgStaff(ctx, &acc, sys, auth.HospitalReporter, o.ID, fmt.Sprintf("demo-reporter-%d", i))
		if err != nil {
			return err
		}
		rev, err := demoOrgStaff(ctx, &acc, sys, auth.HospitalReviewer, o.ID, fmt.Sprintf("demo-hreviewer-%d", i))
		if err != nil {
			return err
		}
		hs = append(hs, hospital{org: o, reporter: rep, reviewer: rev, district: h.region[:6]})
	}
	cdc := map[events.Region]auth.Principal{}
	for _, scope := range []events.Region{"110105", "110108", "1101", "11", events.National} {
		p, err := demoStaff(ctx, &acc, sys, auth.CDCReviewer, scope, "demo-cdc-"+string(scope))
		if err != nil {
			return err
		}
		cdc[scope] = p
	}
	if _, err := demoStaff(ctx, &acc, sys, auth.Auditor, "11", "demo-auditor"); err != nil {
		return err
	}

	surnames := []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	given := []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"}
	districts := []string{"110105", "110108", "110101", "110102"}
	background := []struct {
		disease  string
		symptoms []string
	}{
		{"influenza", []string{"fever", "cough", "myalgia"}},
		{"hfmd", []string{"fever", "vesicles"}},
		{"other_diarrhoea", []string{"diarrhoea", "abdominal_pain"}},
		{"influenza", []string{"fever", "sore_throat"}},
	}
	n := 0
	file := func(h hospital, disease, residence string, symptoms []string, severity string) (cases.Card, error) {
		n++
		today := events.Day(now)
		onset := events.Day(now.Add(-time.Duration(24+rng.IntN(48)) * time.Hour))
		birth := time.Date(1940+rng.IntN(75), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		c, err := cas.File(ctx, h.reporter, cases.FileInput{
			Patient: cases.Patient{Name: string(surnames[rng.IntN(len(surnames))]) + given[rng.IntN(len(given))],
				IDNumber: demoIDNumber(residence[:6], birth, 500+n), Phone: fmt.Sprintf("13%d%08d", 5+rng.IntN(5), rng.IntN(100000000))},
			Card: caseevents.Card{Disease: disease, Diagnosis: []string{caseevents.Clinical, caseevents.Confirmed, caseevents.Suspected}[rng.IntN(3)],
				Onset: onset, Diagnosed: today, Reported: today, Symptoms: symptoms, Residence: events.Region(residence),
				Occupation: caseevents.Occupations()[rng.IntN(len(caseevents.Occupations()))], Severity: severity},
		})
		if err != nil {
			return c, err
		}
		return c, al.StepOnce(ctx) // as the running raiser does when woken by a filing
	}
	var filed []cases.Card
	for day := 0; day < 14; day++ {
		for k := 0; k < 2+rng.IntN(3); k++ {
			now = start.Add(time.Duration(day)*24*time.Hour + time.Duration(8*60+rng.IntN(10*60))*time.Minute)
			b := background[rng.IntN(len(background))]
			d := districts[rng.IntN(len(districts))]
			c, err := file(hs[rng.IntN(len(hs))], b.disease, fmt.Sprintf("%s%03d", d, 1+rng.IntN(9)), b.symptoms, "mild")
			if err != nil {
				return fmt.Errorf("demo card: %w", err)
			}
			filed = append(filed, c)
		}
		if day >= 11 { // the cluster: respiratory illness around 朝阳医院
			for k := 0; k < 2+2*(day-11); k++ {
				now = start.Add(time.Duration(day)*24*time.Hour + time.Duration(9*60+rng.IntN(8*60))*time.Minute)
				c, err := file(hs[0], "influenza", fmt.Sprintf("110105%03d", 4+rng.IntN(2)), []string{"fever", "cough", "dyspnea"},
					[]string{"moderate", "severe"}[rng.IntN(2)])
				if err != nil {
					return fmt.Errorf("demo cluster card: %w", err)
				}
				filed = append(filed, c)
			}
		}
		if day == 12 {
			now = start.Add(time.Duration(day)*24*time.Hour + 15*time.Hour)
			c, err := file(hs[1], "pneumonia_unknown", "110105011", []string{"fever", "cough", "pneumonia_imaging"}, "severe")
			if err != nil {
				return fmt.Errorf("demo card: %w", err)
			}
			filed = append(filed, c)
		}
		now = start.Add(time.Duration(day)*24*time.Hour + 20*time.Hour)
		if err := al.StepOnce(ctx); err != nil {
			return fmt.Errorf("demo alerts: %w", err)
		}
		// The CDC acknowledges the day's alerts within hours; older ones are
		// investigated and closed.
		for _, a := range warn.Engine.Alerts(events.National, "", "") {
			p := cdc[a.Raised.Region]
			if p.Subject == "" {
				continue // a district without a demo CDC reviewer: stays open
			}
			var err error
			switch a.Status {
			case alerts.StatusNotified:
				now = a.RaisedAt.Add(time.Duration(20+rng.IntN(100)) * time.Minute)
				_, err = al.Acknowledge(ctx, p, a.ID, alerts.StepInput{Note: "已接报，安排流调"})
			case alerts.StatusAcknowledged:
				if a.Raised.Rule == "first-case" {
					break // still under investigation at the end of the demo
				}
				now = a.AckedAt.Add(18 * time.Hour)
				if _, err = al.Investigate(ctx, p, a.ID, alerts.StepInput{Findings: "流调完成：病例集中于同一社区"}); err == nil && a.Raised.Day < events.Day(start.Add(12*24*time.Hour)) {
					_, err = al.Close(ctx, p, a.ID, alerts.StepInput{Outcome: alertevents.OutcomeCases, Note: "散发病例，无聚集"})
				}
			}
			if err != nil {
				return fmt.Errorf("demo alert %s: %w", a.ID, err)
			}
		}
	}
	// Reviews: hospitals review everything; the CDCs approve most of what
	// reached them, one card is returned and corrected.
	now = start.Add(14*24*time.Hour - 2*time.Hour)
	returned := false
	for i, c := range filed {
		h := hs[0]
		for _, x := range hs {
			if x.org.ID == c.Hospital {
				h = x
			}
		}
		if _, err := cas.Review(ctx, h.reviewer, c.ID, cases.ReviewInput{Decision: caseevents.Approve}); err != nil {
			return fmt.Errorf("demo review: %w", err)
		}
		if i%3 == 2 {
			continue // awaits the district
		}
		district := cdc[c.HospitalRegion[:6]]
		if !returned && c.Card.Disease == "hfmd" {
			returned = true
			if _, err := cas.Review(ctx, district, c.ID, cases.ReviewInput{Decision: caseevents.Return, Reason: "发病日期与诊断日期需核实"}); err != nil {
				return fmt.Errorf("demo return: %w", err)
			}
			fixed := c.Card
			fixed.Onset = fixed.Diagnosed
			if _, err := cas.Correct(ctx, h.reporter, c.ID, cases.CorrectInput{Card: fixed, Note: "发病日期已更正"}); err != nil {
				return fmt.Errorf("demo correction: %w", err)
			}
			continue
		}
		if _, err := cas.Review(ctx, district, c.ID, cases.ReviewInput{Decision: caseevents.Approve}); err != nil {
			return fmt.Errorf("demo district review: %w", err)
		}
		if i%2 == 0 {
			if _, err := cas.Review(ctx, cdc["1101"], c.ID, cases.ReviewInput{Decision: caseevents.Approve}); err != nil {
				return fmt.Errorf("demo city review: %w", err)
			}
		}
	}
	// A CDC reviewer reads the unknown-pneumonia card for the investigation.
	for _, c := range filed {
		if c.Card.Disease == "pneumonia_unknown" {
			if _, err := cas.Read(ctx, cdc["110105"], c.ID, cases.ReadInput{Purpose: "investigation", Reason: "不明原因肺炎病例流调", FullIdentity: true}); err != nil {
				return fmt.Errorf("demo read: %w", err)
			}
		}
	}
	log.Info("case demo data", "hospitals", len(hs), "cards", len(filed), "alerts", len(warn.Engine.Alerts(events.National, "", "")))
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
// Beijing division code, a number from the name's hash and the check
// character.
func demoLicence(name string) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	sum := sha256.Sum256([]byte(name))
	b := []byte("91110105")
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
