package main

import (
	"strconv"
	"testing"
	"time"
)

// photoHash is the SHA-256 (hex) of a photo of received material.
const photoHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// registerOrgKind registers an organisation of a kind through the API as
// admin and returns its id.
func registerOrgKind(t *testing.T, admin client, kind, name, region string, approve bool) string {
	t.Helper()
	var o struct {
		ID       string
		Kind     string
		Approved bool
	}
	admin.json("POST", "/orgs", with(orgBody(name, region, approve), "kind", kind), 201, &o)
	if o.ID == "" || o.Kind != kind || o.Approved != approve {
		t.Fatalf("registered %s %+v (approve %v)", kind, o, approve)
	}
	return o.ID
}

// n95 is a line of N95 masks; n95Lot the same with a batch number.
func n95(q int64) map[string]any {
	return map[string]any{"item": "mask_n95", "spec": "N95", "quantity": q}
}

func n95Lot(q int64, batch string) map[string]any { return with(n95(q), "batch", batch) }

// needBody is a need for q N95 masks, open for a week.
func needBody(q int64) map[string]any {
	return map[string]any{"item": "mask_n95", "spec": "N95", "quantity": q, "urgency": "high", "deliver_to": "南楼物资库",
		"valid_until": time.Now().UTC().Add(7 * 24 * time.Hour)}
}

// pledgeBody pledges q N95 masks against need ("" for the general pool).
func pledgeBody(need string, q int64) map[string]any {
	b := map[string]any{"lines": []any{n95(q)}}
	if need != "" {
		b["need"] = need
	}
	return b
}

// dispatchBody hands lots over to the organisation to.
func dispatchBody(to string, lots ...map[string]any) map[string]any {
	return map[string]any{"to": map[string]any{"org": to}, "lots": lots, "via": "顺丰 SF1234567890"}
}

// receiptBody confirms a hop, intact, with a note (needed when short).
func receiptBody(note string, lots ...map[string]any) map[string]any {
	b := map[string]any{"lots": lots, "condition": "intact", "photo_hash": photoHash}
	if note != "" {
		b["note"] = note
	}
	return b
}

// donationView is the part of a donation the tests look at.
type donationView struct {
	ID    string
	Donor struct{ Kind, ID, Name string }
	Need  string
	Lines []struct {
		Item, Spec string
		Quantity   int64
	}
	Region string
	Hops   []struct {
		Hop  int
		From struct{ Kind, ID string }
		To   struct{ Org, Unit string }
		Lots []struct {
			Item, Spec, Batch string
			Quantity          int64
		}
		Receipt *struct {
			Flags []string
			Lots  []struct {
				Batch    string
				Quantity int64
			}
		}
	}
	Reviews []struct {
		Round    int
		Verdict  string
		Reviewer string
		Note     string
	}
	Escalated string
}

// pledge pledges as c and returns the donation.
func pledge(t *testing.T, c client, body map[string]any) donationView {
	t.Helper()
	c.t = t
	var d donationView
	c.json("POST", "/donations", body, 201, &d)
	if d.ID == "" || len(d.Hops) != 0 {
		t.Fatalf("pledged %+v", d)
	}
	return d
}

// dispatch records the next hop of donation id as c.
func dispatch(t *testing.T, c client, id string, body map[string]any) donationView {
	t.Helper()
	c.t = t
	var d donationView
	c.json("POST", "/donations/"+id+"/hops", body, 201, &d)
	return d
}

// confirm confirms hop n of donation id as c.
func confirm(t *testing.T, c client, id string, hop int, body map[string]any) donationView {
	t.Helper()
	c.t = t
	var d donationView
	c.json("POST", "/donations/"+id+"/hops/"+strconv.Itoa(hop)+"/receipt", body, 200, &d)
	if len(d.Hops) < hop || d.Hops[hop-1].Receipt == nil {
		t.Fatalf("confirmed hop %d: %+v", hop, d)
	}
	return d
}
