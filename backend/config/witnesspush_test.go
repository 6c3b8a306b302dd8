package config

import (
	"crypto/ed25519"
	"io"
	"testing"

	"github.com/onebook/onebook/events/seal"
)

func TestParseWitnessPush(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	key := seal.CosigV1Key("cdc.example/w", pub)
	_, plain, err := seal.GenerateKey("auditor.example/w")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want []WitnessTarget
		ok   bool
	}{
		{"", nil, true},
		{key + "=https://w.example/x/", []WitnessTarget{{key, "https://w.example/x"}}, true},
		{key + "=http://127.0.0.1:9/?a=b, " + plain + "=https://a.example", []WitnessTarget{{key, "http://127.0.0.1:9/?a=b"}, {plain, "https://a.example"}}, true},
		{key, nil, false},
		{key + "=ftp://w.example", nil, false},
		{key + "=https://", nil, false},
		{"nokey=https://w.example", nil, false},
	}
	for _, tt := range tests {
		got, err := ParseWitnessPush(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
			}
		}
	}
	// The pushed witnesses' keys are accepted cosigners.
	c, err := Load([]string{"--witness-push", key + "=https://w.example"}, func(string) string { return "" }, io.Discard)
	if err != nil || len(c.Witnesses) != 1 || c.Witnesses[0] != key {
		t.Fatalf("Load: %v %v", c.Witnesses, err)
	}
}
