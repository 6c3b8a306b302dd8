package passes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/residents"
)

// RulesVersion is recorded with every declaration so that anyone can tell
// which rules gave a status. Bump it whenever Assess changes.
const RulesVersion = 1

// Symptoms a declaration may list.
func Symptoms() []string {
	return []string{"fever", "cough", "sore_throat", "fatigue", "shortness_of_breath", "diarrhea", "loss_of_taste_or_smell"}
}

// respiratory symptoms weigh more together with a fever.
func respiratory(s string) bool {
	return s == "cough" || s == "sore_throat" || s == "shortness_of_breath" || s == "loss_of_taste_or_smell"
}

// FeverC is the threshold of a fever in °C (armpit), as used by community
// checkpoints.
const FeverC = 37.3

// Declaration is what a resident states about one household member.
type Declaration struct {
	Temperature float64
	Symptoms    []string
	Visited     []events.Region // regions visited in the last 14 days
	Contact     bool            // contact with a confirmed case
}

// Assess gives the health status of a declaration. The rules, in order:
//
//  1. red: contact with a confirmed case;
//  2. red: fever (≥ 37.3 °C) together with a respiratory symptom;
//  3. yellow: fever alone, or any symptom;
//  4. yellow: a visit in the last 14 days to a region in risk (a risk
//     region code covers the visited code, e.g. 4201 covers 420106);
//  5. green otherwise.
//
// The reason names the rule that applied, so the resident sees why.
func Assess(d Declaration, risk []events.Region) (status, reason string) {
	fever := d.Temperature >= FeverC
	if d.Contact {
		return residents.Red, "contact with a confirmed case"
	}
	if fever && slices.ContainsFunc(d.Symptoms, respiratory) {
		return residents.Red, fmt.Sprintf("fever %.1f°C with respiratory symptoms", d.Temperature)
	}
	if fever {
		return residents.Yellow, fmt.Sprintf("fever %.1f°C", d.Temperature)
	}
	if len(d.Symptoms) > 0 {
		return residents.Yellow, "symptoms: " + strings.Join(d.Symptoms, ", ")
	}
	for _, v := range d.Visited {
		for _, r := range risk {
			if r.Covers(v) {
				return residents.Yellow, fmt.Sprintf("visited %s (risk region %s) in the last 14 days", v, r)
			}
		}
	}
	return residents.Green, "no risk declared"
}

// validateDeclaration checks the input fields a client sends.
func validateDeclaration(d Declaration) error {
	if d.Temperature < 34 || d.Temperature > 43 {
		return events.Invalid("temperature", "temperature %.1f°C is outside 34–43°C", d.Temperature)
	}
	if len(d.Symptoms) > len(Symptoms()) {
		return events.Invalid("symptoms", "too many symptoms")
	}
	for _, s := range d.Symptoms {
		if !slices.Contains(Symptoms(), s) {
			return events.Invalid("symptoms", "unknown symptom %q (one of %v)", s, Symptoms())
		}
	}
	if len(d.Visited) > 50 {
		return events.Invalid("visited", "at most 50 regions")
	}
	for _, v := range d.Visited {
		if _, err := events.ParseRegion(string(v)); err != nil {
			return events.Invalid("visited", "%q is not a region code", v)
		}
	}
	return nil
}
