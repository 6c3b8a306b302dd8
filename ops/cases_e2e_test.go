package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/cases"
	"github.com/onebook/onebook/backend/casestest"
	api "github.com/onebook/onebook/miniapp-api"
)

// Regions of case reporting in these tests: region A is Beijing's Chaoyang
// district (city 1101), where community A lies; region B is Tianjin's
// Heping district, outside every scope of region A.
const (
	districtA = "110105"
	cityA     = "1101"
	districtB = "120101"
)

// readReason is a reason for reading case data the rules accept.
const readReason = "病例审核核实"

// orgBody is a hospital registration.
func orgBody(name, region string, approve bool) map[string]any {
	sum := sha256.Sum256([]byte(name))
	return map[string]any{"kind": "hospital", "name": name, "region": region, "licence": casestest.Licence(name),
		"docs_hash": hex.EncodeToString(sum[:]), "approve": approve}
}

// registerHospital registers a hospital through the API as admin and
// returns its id.
func registerHospital(t *testing.T, admin client, name, region string, approve bool) string {
	t.Helper()
	var o struct {
		ID       string
		Approved bool
	}
	admin.json("POST", "/orgs", orgBody(name, region, approve), 201, &o)
	if o.ID == "" || o.Approved != approve {
		t.Fatalf("registered hospital %+v (approve %v)", o, approve)
	}
	return o.ID
}

// orgStaffClient creates a staff account acting for an organisation with
// ops staff add --org (its scope is the organisation's region), binds it
// and returns a signed-in client.
func orgStaffClient(t *testing.T, b *backend, role auth.Role, org string) client {
	t.Helper()
	return newStaffClient(t, b, role, "", org)
}

// subject is the account id of a signed-in client.
func subject(t *testing.T, c client) string {
	t.Helper()
	var me struct{ Subject string }
	c.json("GET", "/me", nil, 200, &me)
	return me.Subject
}

// today is the day of filing in China Standard Time.
func today() string { return cases.DayOf(time.Now()) }

// card is a report card of today. With symptoms that belong to no symptom
// group (fatigue) and a disease that does not alert on its first case, a
// card raises no alert.
func card(disease, residence string, symptoms ...string) map[string]any {
	if symptoms == nil {
		symptoms = []string{"fatigue"}
	}
	d := today()
	return map[string]any{"disease": disease, "diagnosis": "clinical", "onset": d, "diagnosed": d, "reported": d,
		"symptoms": symptoms, "residence": residence, "occupation": "worker", "severity": "mild"}
}

// fileBody is a new report card for patient n.
func fileBody(n int, c map[string]any) map[string]any {
	return map[string]any{"patient": map[string]string{"name": casestest.Name(n), "id_number": casestest.IDNumber(districtA, n),
		"phone": "13900000000"}, "card": c}
}

// cardView is the part of a card the tests look at.
type cardView struct {
	ID             string
	Hospital       string
	HospitalRegion string `json:"hospital_region"`
	Status         string
	Level          string
	Round          int
	PatientName    string `json:"patient_name"`
	Card           struct{ Disease string }
}

// fileCard files a card as reporter and returns it.
func fileCard(t *testing.T, reporter client, n int, c map[string]any) cardView {
	t.Helper()
	var v cardView
	reporter.json("POST", "/cases", fileBody(n, c), 201, &v)
	if v.ID == "" || v.Status != "pending" {
		t.Fatalf("filed card %+v", v)
	}
	return v
}

// alertView is the part of an alert the tests look at.
type alertView struct {
	ID     string
	Status string
	Raised struct {
		Rule, Code, Region, Trigger string
	}
}

// waitAlert polls GET /alerts as c until an alert triggered by card id
// has one of the statuses, and returns it.
func waitAlert(t *testing.T, c client, cardID string, statuses ...string) alertView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct{ Alerts []alertView }
		c.json("GET", "/alerts", nil, 200, &list)
		for _, a := range list.Alerts {
			if a.Raised.Trigger != cardID {
				continue
			}
			for _, s := range statuses {
				if a.Status == s {
					return a
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert triggered by %s with status %v within 30s: %+v", cardID, statuses, list.Alerts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ledgerSize reads the ledger's size from /healthz.
func ledgerSize(t *testing.T, b *backend) uint64 {
	t.Helper()
	resp, err := http.Get("http://" + b.httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.HealthStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Ledger.Size
}

// errorField returns the error.field of a JSON error answer, failing the
// test if the answer is not one.
func errorField(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string
			Field   string
			Message string
		}
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %s", body)
	}
	return e.Error.Field
}
