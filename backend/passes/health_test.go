package passes

import (
	"testing"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/residents"
)

func TestAssess(t *testing.T) {
	risk := []events.Region{"4201", "110105002"}
	tests := []struct {
		name string
		d    Declaration
		want string
	}{
		{"healthy", Declaration{Temperature: 36.5}, residents.Green},
		{"contact trumps all", Declaration{Temperature: 36.5, Contact: true}, residents.Red},
		{"fever with cough", Declaration{Temperature: 38.1, Symptoms: []string{"cough"}}, residents.Red},
		{"fever at threshold with sore throat", Declaration{Temperature: 37.3, Symptoms: []string{"sore_throat"}}, residents.Red},
		{"fever alone", Declaration{Temperature: 37.5}, residents.Yellow},
		{"just below fever with fatigue", Declaration{Temperature: 37.2, Symptoms: []string{"fatigue"}}, residents.Yellow},
		{"fever with diarrhea only", Declaration{Temperature: 38, Symptoms: []string{"diarrhea"}}, residents.Yellow},
		{"visited risk city district", Declaration{Temperature: 36.6, Visited: []events.Region{"420106"}}, residents.Yellow},
		{"visited risk street", Declaration{Temperature: 36.6, Visited: []events.Region{"110105002001"}}, residents.Yellow},
		{"visited neighbour street", Declaration{Temperature: 36.6, Visited: []events.Region{"110105001"}}, residents.Green},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, reason := Assess(tt.d, risk); got != tt.want || reason == "" {
				t.Fatalf("got %s (%s), want %s", got, reason, tt.want)
			}
		})
	}
}

func TestValidateDeclaration(t *testing.T) {
	tests := []struct {
		d     Declaration
		field string
	}{
		{Declaration{Temperature: 33}, "temperature"},
		{Declaration{Temperature: 36.6, Symptoms: []string{"sneezing"}}, "symptoms"},
		{Declaration{Temperature: 36.6, Visited: []events.Region{"abc"}}, "visited"},
	}
	for _, tt := range tests {
		err := validateDeclaration(tt.d)
		if e, ok := err.(*events.Error); !ok || e.Field != tt.field {
			t.Errorf("%+v: %v, want error on %s", tt.d, err, tt.field)
		}
	}
	if err := validateDeclaration(Declaration{Temperature: 36.6, Symptoms: []string{"cough"}, Visited: []events.Region{"4201"}}); err != nil {
		t.Fatal(err)
	}
}
