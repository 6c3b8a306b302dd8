package app

import (
	"os"
	"strings"
	"testing"

	"github.com/onebook/onebook/events/schemas"
)

// DisclosureTable is the README's table of what every event type shows the
// public and what it seals, generated from the disclose tags of the
// payloads (events/sealed.go).
func DisclosureTable() string {
	reg := schemas.Registry()
	var b strings.Builder
	b.WriteString("| event type | public fields | sealed fields |\n|---|---|---|\n")
	for _, typ := range reg.Types() {
		pub, sealed := reg.Disclosure(typ)
		b.WriteString("| `" + typ + "` | " + fields(pub) + " | " + fields(sealed) + " |\n")
	}
	return b.String()
}

func fields(fs []string) string {
	if len(fs) == 0 {
		return "–"
	}
	return "`" + strings.Join(fs, "`, `") + "`"
}

// TestEveryEventTypeDeclaresItsDisclosure walks the registry: every type's
// payload declares each field public or sealed (registration panics on a
// field without the tag, so building the registry is half the test), and
// the README lists exactly what the code declares.
func TestEveryEventTypeDeclaresItsDisclosure(t *testing.T) {
	reg := schemas.Registry()
	for _, typ := range reg.Types() {
		pub, sealed := reg.Disclosure(typ)
		if len(pub)+len(sealed) == 0 {
			t.Errorf("%s declares no fields", typ)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := DisclosureTable(); !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not have the disclosure table of the code; it should read:\n%s", want)
	}
}

// TestPersonalFieldsAreSealed names the fields that are about a person or
// a case and checks that they are declared sealed wherever they occur.
func TestPersonalFieldsAreSealed(t *testing.T) {
	personal := map[string]bool{"holder": true, "pass": true, "person_id": true, "person_ids": true, "patient": true,
		"personal": true, "temperature": true, "symptoms": true, "visited": true, "contact": true, "status": true,
		"building": true, "unit": true, "members": true, "openid_index": true, "visitor": true, "host": true,
		"requester": true, "card": true, "groups": true, "previous": true, "counted": true, "query": true,
		"subjects": true, "purpose": true, "cases": true, "trigger": true, "code": true, "region": true, "day": true}
	// aggregate: a province's daily counts for the nation, public by
	// design with small cells left out (events/aggregates); their day and
	// province are what they are about, not a person's. nation: what the
	// national ledger records of those counts (events/nationevents) — an
	// alert's code, region and day are a disease or symptom group, a
	// city or province of residence and a day, summed from public
	// figures; an export's query is the query of a public view.
	public := map[string]bool{"donation": true, "org": true, "need": true, "stock": true, "rule": true, "gate": true, "staff": true,
		"aggregate": true, "nation": true}
	reg := schemas.Registry()
	for _, typ := range reg.Types() {
		pub, _ := reg.Disclosure(typ)
		domain, _, _ := strings.Cut(typ, ".")
		if public[domain] {
			continue
		}
		for _, f := range pub {
			if personal[f] {
				t.Errorf("%s: field %s is public", typ, f)
			}
		}
	}
}
