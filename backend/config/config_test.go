package config

import (
	"io"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(Config) bool
		wantErr bool
	}{
		{"defaults", nil, nil, func(c Config) bool {
			return c.Addr == ":8080" && c.DataDir == "./data" && c.NATSURL == "" && c.MongoURI == "" && c.NATSPort == 4222 &&
				c.SealKeyFile == "data/seal.key" && c.Replicas == 1 && c.DedupWindow == time.Hour && !c.Demo
		}, false},
		{"env", nil, map[string]string{"ONEBOOK_ADDR": ":9000", "NATS_URL": "nats://a:4222", "ONEBOOK_DATA": "/var/lib/onebook"}, func(c Config) bool {
			return c.Addr == ":9000" && c.NATSURL == "nats://a:4222" && c.SealKeyFile == "/var/lib/onebook/seal.key"
		}, false},
		{"flag beats env", []string{"--addr=:7000", "--demo"}, map[string]string{"ONEBOOK_ADDR": ":9000"}, func(c Config) bool {
			return c.Addr == ":7000" && c.Demo
		}, false},
		{"bad replicas", []string{"--replicas=2"}, nil, nil, true},
		{"bad port", nil, map[string]string{"ONEBOOK_NATS_PORT": "70000"}, nil, true},
		{"bad duration", []string{"--dedup-window=soon"}, nil, nil, true},
		{"bad level", []string{"--log-level=loud"}, nil, nil, true},
		{"unknown flag", []string{"--nope"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, env(tt.env), io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}
