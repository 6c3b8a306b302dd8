package app

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/wechat/wxmock"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
)

// Demo fills an empty ledger with a realistic fortnight of one district,
// through the same service calls the mini-program and the scanner phones
// make: three communities with two gates each, property managers and gate
// operators, a few hundred residents in households with valid ID numbers,
// daily health declarations, two weeks of scans (a few denied), a pass
// revoked for red status and a household that moved out and was erased.
// It runs on a simulated clock that starts fourteen days ago, in place's
// district (Beijing's 朝阳区 for the single ledger).
func Demo(ctx context.Context, place DemoPlace, acc *accounts.Service, svc *passes.Service, log *slog.Logger) error {
	size, err := svc.Store.Size(ctx)
	if err != nil {
		return err
	}
	if size > 0 {
		log.Info("demo skipped: the ledger is not empty", "events", size)
		return nil
	}
	d := &passDemo{rng: rand.New(rand.NewPCG(2020, 2)), start: time.Now().UTC().Add(-14 * 24 * time.Hour).Truncate(time.Hour),
		sys: auth.Principal{Subject: "demo", Role: auth.System}, cs: map[events.Region]*demoCommunity{}, place: place}
	d.now = d.start
	d.svc, d.acc = *svc, *acc
	d.svc.Now = func() time.Time { return d.now }
	d.acc.Now, d.acc.Passes = d.svc.Now, &d.svc
	if err := d.staff(ctx); err != nil {
		return err
	}
	if err := d.households(ctx); err != nil {
		return err
	}
	scans := 0
	for day := 0; day < 14; day++ {
		n, err := d.day(ctx, day)
		if err != nil {
			return err
		}
		scans += n
	}
	size, _ = svc.Store.Size(ctx)
	log.Info("demo data", "district", place.district(), "communities", len(place.communities()), "people", len(d.people), "scans", scans, "events", size)
	return nil
}

// DemoPlace is the province a demo fills: "11" (Beijing) for the single
// ledger, as always, and each province's own in a deployment with a ledger
// per province (DemoPlaceOf). The demo is written for Beijing (district
// 朝阳区 110105, city 1101, province 11); in another province every region
// code keeps its city, district and community digits under that
// province's two (310105, 3101, 31) — derived, not listed per province —
// and the names that are Beijing's give way to generic ones, so that each
// province's cell holds data of its own region.
type DemoPlace events.Region

// DemoPlaceOf is the demo's place in cell ("" for the single ledger).
func DemoPlaceOf(cell events.Region) DemoPlace {
	if cell == "" {
		return "11"
	}
	return DemoPlace(cell)
}

// region is the place's code for Beijing's code beijing.
func (p DemoPlace) region(beijing events.Region) events.Region {
	if beijing == events.National {
		return beijing
	}
	return events.Region(p) + beijing[2:]
}

// name is the place's name for Beijing's name beijing: generic outside
// Beijing.
func (p DemoPlace) name(beijing, generic string) string {
	if p == "11" {
		return beijing
	}
	return generic
}

// district is the demo's district (北京市朝阳区 110105 in Beijing) and
// communities its three communities.
func (p DemoPlace) district() events.Region { return p.region("110105") }

func (p DemoPlace) communities() []events.Region {
	d := p.district()
	return []events.Region{d + "001001", d + "001002", d + "002001"}
}

// passDemo is the pass demo under way: copies of the services whose clock
// is its simulated now, the communities' gates and operators, and the
// residents registered.
type passDemo struct {
	rng        *rand.Rand
	start, now time.Time
	svc        passes.Service
	acc        accounts.Service
	sys        auth.Principal
	cs         map[events.Region]*demoCommunity
	people     []demoPerson
	place      DemoPlace
}

type demoCommunity struct {
	gates []string
	op    auth.Principal
}

type demoPerson struct {
	res   auth.Principal
	id    string
	c     events.Region
	phone string
}

// staff makes a property manager with two gates and a gate operator in
// each community, a government analyst and an admin of the district (who
// makes staff accounts and their invite codes, POST /staff, for the
// mini-program's binding page).
func (d *passDemo) staff(ctx context.Context) error {
	for i, c := range d.place.communities() {
		pm, err := demoStaff(ctx, &d.acc, d.sys, auth.PropertyManager, c, fmt.Sprintf("demo-pm-%d", i))
		if err != nil {
			return err
		}
		op, err := demoStaff(ctx, &d.acc, d.sys, auth.GateOperator, c, fmt.Sprintf("demo-op-%d", i))
		if err != nil {
			return err
		}
		d.cs[c] = &demoCommunity{op: op}
		for _, name := range []string{"东门", "南门"} {
			g, err := d.svc.RegisterGate(ctx, pm, passes.GateInput{Community: c, Name: name})
			if err != nil {
				return err
			}
			d.cs[c].gates = append(d.cs[c].gates, g.ID)
		}
	}
	if _, err := demoStaff(ctx, &d.acc, d.sys, auth.GovAnalyst, d.place.district(), "demo-gov"); err != nil {
		return err
	}
	_, err := demoStaff(ctx, &d.acc, d.sys, auth.Admin, d.place.district(), "demo-admin")
	return err
}

// households registers 150 households of one to three members.
func (d *passDemo) households(ctx context.Context) error {
	rng := d.rng
	surnames := []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	given := []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"}
	for h := 0; h < 150; h++ {
		c := d.place.communities()[h%len(d.place.communities())]
		res := d.acc.SignIn(fmt.Sprintf("demo-resident-%03d", h))
		in := accounts.RegisterInput{Community: c, Building: fmt.Sprint(1 + rng.IntN(12)), Unit: fmt.Sprintf("%d-%d0%d", 1+rng.IntN(4), 1+rng.IntN(20), 1+rng.IntN(4))}
		for m := 0; m < 1+rng.IntN(3); m++ {
			rel := []string{"self", "spouse", "child"}[m]
			birth := time.Date(1950+rng.IntN(60), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
			in.Members = append(in.Members, accounts.MemberInput{
				Name:     string(surnames[rng.IntN(len(surnames))]) + given[rng.IntN(len(given))],
				IDNumber: demoIDNumber(string(c[:6]), birth, h*3+m),
				Phone:    fmt.Sprintf("13%d%08d", 5+rng.IntN(5), rng.IntN(100000000)),
				Relation: rel,
			})
		}
		hh, err := d.acc.Register(ctx, res, in)
		if err != nil {
			return fmt.Errorf("demo household %d: %w", h, err)
		}
		res = d.acc.SignIn(fmt.Sprintf("demo-resident-%03d", h))
		for i, m := range hh.Members {
			d.people = append(d.people, demoPerson{res: res, id: m.PersonID, c: c, phone: in.Members[i].Phone})
		}
	}
	return nil
}

// day is one day of the demo: a third of the residents declare (one goes
// red on day 6, and loses the pass), the gates scan offline all day and
// upload in the evening, a household is erased on day 10 and from day 11
// visitors come. It returns how many scans were uploaded.
func (d *passDemo) day(ctx context.Context, day int) (int, error) {
	rng := d.rng
	d.now = d.start.Add(time.Duration(day)*24*time.Hour + 7*time.Hour)
	for i, p := range d.people {
		if i%3 != day%3 {
			continue // a third of residents declare each day
		}
		temp := 36.2 + rng.Float64()*0.8
		in := passes.DeclareInput{PersonID: p.id, Temperature: float64(int(temp*10)) / 10}
		if day == 6 && i == 7 {
			in.Temperature, in.Symptoms = 38.6, []string{"fever", "cough"} // goes red: pass revoked
		}
		if _, err := d.svc.Declare(ctx, p.res, in); err != nil && events.ErrorCode(err) != events.CodeNotFound {
			return 0, fmt.Errorf("demo declaration: %w", err)
		}
	}
	scans, err := d.scans(ctx, day)
	if err != nil {
		return 0, err
	}
	if day == 10 {
		if err := d.acc.Erase(ctx, d.people[20].res); err != nil {
			return 0, fmt.Errorf("demo erasure: %w", err)
		}
	}
	if day >= 11 {
		h := d.people[30+day]
		if err := demoVisits(ctx, &d.acc, &d.svc, h.res, h.phone, d.cs[h.c].op, d.cs[h.c].gates[0], d.now, day); err != nil {
			return 0, fmt.Errorf("demo visits: %w", err)
		}
	}
	return scans, nil
}

// scans: the gates scan offline all day and upload in the evening, one
// batch per community (its operator's), as the scanner phones do.
func (d *passDemo) scans(ctx context.Context, day int) (int, error) {
	rng := d.rng
	uploads := map[events.Region][]passes.ScanInput{}
	for k := 0; k < 100; k++ {
		d.now = d.start.Add(time.Duration(day)*24*time.Hour + time.Duration(6*60+rng.IntN(16*60))*time.Minute)
		p := d.people[rng.IntN(len(d.people))]
		tok, err := d.svc.Pass(ctx, p.res, p.id)
		if err != nil {
			continue // red or erased: no pass to show
		}
		c := d.cs[p.c]
		in := passes.ScanInput{ScanID: fmt.Sprintf("demo-%d-%d", day, k), Token: tok.Token, Gate: c.gates[rng.IntN(len(c.gates))],
			Direction: []string{passevents.In, passevents.Out}[rng.IntN(2)], ScannedAt: d.now}
		if k%40 == 39 {
			in.IDLast4 = "0000" // the guard asks for the ID's last 4 and gets it wrong
		}
		uploads[p.c] = append(uploads[p.c], in)
	}
	d.now = d.start.Add(time.Duration(day)*24*time.Hour + 22*time.Hour)
	scans := 0
	for _, c := range d.place.communities() {
		if len(uploads[c]) == 0 {
			continue
		}
		out, err := d.svc.ScanBatch(ctx, d.cs[c].op, uploads[c])
		if err != nil {
			return 0, fmt.Errorf("demo scans: %w", err)
		}
		for _, r := range out {
			if r.Error != nil {
				return 0, fmt.Errorf("demo scan %s: %s", r.ScanID, r.Error.Message)
			}
		}
		scans += len(out)
	}
	return scans, nil
}

// demoVisits has a resident invite a visitor who then comes in, and a
// visitor ask for a visit that the host refuses.
func demoVisits(ctx context.Context, acc *accounts.Service, svc *passes.Service, host auth.Principal, hostPhone string, op auth.Principal, gate string, now time.Time, day int) error {
	birth := time.Date(1985, 3, day, 0, 0, 0, 0, time.UTC)
	v, err := svc.Invite(ctx, host, passes.VisitInput{Name: "赵" + []string{"一", "二", "三", "四", "五", "六", "七"}[day%7], IDNumber: demoIDNumber("310104", birth, day), Phone: fmt.Sprintf("1370000%04d", day),
		From: now.Add(-time.Hour), To: now.Add(6 * time.Hour)})
	if err != nil {
		return err
	}
	tok, err := svc.VisitPass(ctx, host, v.ID)
	if err != nil {
		return err
	}
	if _, err := svc.Scan(ctx, op, passes.ScanInput{ScanID: fmt.Sprintf("demo-visit-%d", day), Token: tok.Token, Gate: gate, Direction: "in", ScannedAt: now}); err != nil {
		return err
	}
	asker := acc.SignIn(fmt.Sprintf("demo-visitor-%d", day))
	req, err := svc.RequestVisit(ctx, asker, passes.VisitInput{Name: "钱" + []string{"甲", "乙", "丙", "丁", "戊", "己", "庚"}[day%7], IDNumber: demoIDNumber("320102", birth, day+100),
		Phone: fmt.Sprintf("1360000%04d", day), HostPhone: hostPhone, From: now.Add(time.Hour), To: now.Add(3 * time.Hour)})
	if err != nil {
		return err
	}
	if day%2 == 0 {
		_, err = svc.DecideVisit(ctx, host, req.ID, false, "不在家")
	} // odd days: left pending for the property manager
	return err
}

func demoStaff(ctx context.Context, svc *accounts.Service, sys auth.Principal, role auth.Role, scope events.Region, openID string) (auth.Principal, error) {
	ns, err := svc.AddStaff(ctx, sys, accounts.StaffInput{Role: string(role), Scope: scope, Label: "demo " + string(role)})
	if err != nil {
		return auth.Principal{}, err
	}
	return svc.BindStaff(ctx, demoOpenID(openID), ns.InviteCode)
}

// demoIDNumber makes a valid GB 11643 number: region, birth date, sequence
// and the ISO 7064 MOD 11-2 check character.
func demoIDNumber(region string, birth time.Time, seq int) string {
	body := fmt.Sprintf("%s%s%03d", region, birth.Format("20060102"), seq%1000)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(body[i]-'0') * w
	}
	return body + string("10X98765432"[sum%11])
}

// demoOpenID is the openid the in-process fake WeChat gives the login code
// name, so that in development a demo staff account signs in with
// POST /auth/wechat {"code": name} (e.g. "demo-cdc-110105").
func demoOpenID(name string) string { return wxmock.OpenID(devAppID, name) }
