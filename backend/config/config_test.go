package config

import (
	"io"
	"strings"
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
			return c.Addr == "127.0.0.1:8080" && c.Development() && c.DataDir == "./data" && c.NATSURL == "" && c.MongoURI == "" && c.NATSPort == 4222 &&
				c.SealKeyFile == "data/seal.key" && c.Replicas == 1 && c.DedupWindow == time.Hour && !c.Demo &&
				c.MetricsAddr == "127.0.0.1:9090" && c.MetricsToken == "" && c.RequestTimeout == 10*time.Second && c.ExportTimeout == 10*time.Minute
		}, false},
		{"env", nil, map[string]string{"ONEBOOK_ADDR": "127.0.0.1:9000", "NATS_URL": "nats://a:4222", "ONEBOOK_DATA": "/var/lib/onebook",
			"ONEBOOK_METRICS_TOKEN": "s3cret", "ONEBOOK_REQUEST_TIMEOUT": "2s"}, func(c Config) bool {
			return c.Addr == "127.0.0.1:9000" && c.NATSURL == "nats://a:4222" && c.SealKeyFile == "/var/lib/onebook/seal.key" &&
				c.MetricsToken == "s3cret" && c.RequestTimeout == 2*time.Second
		}, false},
		{"flag beats env", []string{"--addr=127.0.0.1:7000", "--demo", "--metrics-addr=off"}, map[string]string{"ONEBOOK_ADDR": "127.0.0.1:9000"}, func(c Config) bool {
			return c.Addr == "127.0.0.1:7000" && c.Demo && c.MetricsAddr == ""
		}, false},
		{"bad metrics addr", []string{"--metrics-addr=9090"}, nil, nil, true},
		{"bad request timeout", []string{"--request-timeout=0s"}, nil, nil, true},
		{"bad export timeout", []string{"--export-timeout=long"}, nil, nil, true},
		{"bad replicas", []string{"--replicas=2"}, nil, nil, true},
		{"bad port", nil, map[string]string{"ONEBOOK_NATS_PORT": "70000"}, nil, true},
		{"bad duration", []string{"--dedup-window=soon"}, nil, nil, true},
		{"bad level", []string{"--log-level=loud"}, nil, nil, true},
		{"unknown flag", []string{"--nope"}, nil, nil, true},
		{"bad sync", []string{"--nats-sync=sometimes"}, nil, nil, true},
		{"short pass ttl", []string{"--pass-ttl=30s"}, nil, nil, true},
		{"negative seal interval", []string{"--seal-interval=-1s"}, nil, nil, true},
		{"bad limit", []string{"--limit-client=-1"}, nil, nil, true},
		{"bad proxy", []string{"--trusted-proxies=10.0.0.1,proxy.local"}, nil, nil, true},
		{"bad region", []string{"--risk-regions=110105,abc"}, nil, nil, true},
		{"lists and zero durations", []string{"--trusted-proxies= 10.0.0.1 ,10.1.0.0/16", "--risk-regions=110105", "--seal-interval=0", "--snapshot-every=0"}, nil, func(c Config) bool {
			return len(c.TrustedProxies) == 2 && c.TrustedProxies[0] == "10.0.0.1" && len(c.RiskRegions) == 1 && c.SealInterval == 0 && c.SnapshotEvery == 0
		}, false},
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

// TestDevelopmentModeListensOnLoopbackOnly: without WeChat credentials the
// backend runs a fake WeChat that signs anyone in as anyone, so it binds to
// loopback by default and refuses any other address; with them it binds
// where it is told and demo data is refused.
// TestLoadNamesTheSetting: a setting that does not parse is refused with
// its name and what it should be.
func TestLoadNamesTheSetting(t *testing.T) {
	tests := []struct {
		arg  string
		want string
	}{
		{"--pass-ttl=30s", `pass-ttl: "30s" is not a duration of at least 1m`},
		{"--session-ttl=soon", `session-ttl: "soon" is not a duration of at least 1m`},
		{"--request-timeout=0s", `request-timeout: "0s" is not a positive duration`},
		{"--seal-interval=-1s", `seal-interval: "-1s" is not a duration`},
		{"--snapshot-every=many", `snapshot-every: "many" is not a number of events`},
		{"--projectors=maybe", `projectors: "maybe" is not true or false`},
		{"--limit-signin=x", `limit-signin: "x" is not a number of requests per minute`},
		{"--mongo-port=70000", `mongo-port: "70000" is not a port`},
		{"--metrics-addr=9090", `metrics-addr: "9090" is not host:port or off`},
		{"--trusted-proxies=proxy.local", `trusted-proxies: "proxy.local" is not an address or a CIDR range`},
		{"--nats-sync=sometimes", `nats-sync: must be "always" or a positive duration, got "sometimes"`},
		{"--replicas=2", `replicas: must be 1, 3 or 5, got "2"`},
		{"--alert-webhook=ftp://x", `alert-webhook: "ftp://x" is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			_, err := Load([]string{tt.arg}, func(string) string { return "" }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%s) = %v, want %q", tt.arg, err, tt.want)
			}
		})
	}
}

func TestDevelopmentModeListensOnLoopbackOnly(t *testing.T) {
	creds := map[string]string{"WECHAT_APPID": "wx0123456789abcdef", "WECHAT_SECRET": "secret"}
	tests := []struct {
		name     string
		args     []string
		wechat   bool
		wantAddr string // "" = refused
		wantMsg  []string
	}{
		{"default, development", nil, false, "127.0.0.1:8080", nil},
		{"default, WeChat", nil, true, ":8080", nil},
		{"loopback port, development", []string{"--addr", "127.0.0.1:0"}, false, "127.0.0.1:0", nil},
		{"localhost, development", []string{"--addr", "localhost:8080"}, false, "localhost:8080", nil},
		{"IPv6 loopback, development", []string{"--addr", "[::1]:8080"}, false, "[::1]:8080", nil},
		{"other loopback, development", []string{"--addr", "127.0.0.2:8080"}, false, "127.0.0.2:8080", nil},
		{"every interface, development", []string{"--addr", ":8080"}, false, "", []string{"WECHAT_APPID", "WECHAT_SECRET", "ONEBOOK_ADDR", `":8080"`}},
		{"0.0.0.0, development", []string{"--addr", "0.0.0.0:8080"}, false, "", []string{"WECHAT_APPID", "ONEBOOK_ADDR"}},
		{"IPv6 any, development", []string{"--addr", "[::]:8080"}, false, "", []string{"WECHAT_APPID", "ONEBOOK_ADDR"}},
		{"LAN address, development", []string{"--addr", "192.168.1.20:8080"}, false, "", []string{"WECHAT_APPID", "ONEBOOK_ADDR"}},
		{"host name, development", []string{"--addr", "onebook.example.org:8080"}, false, "", []string{"WECHAT_APPID", "ONEBOOK_ADDR"}},
		{"every interface, WeChat", []string{"--addr", ":8080"}, true, ":8080", nil},
		{"0.0.0.0, WeChat", []string{"--addr", "0.0.0.0:8080"}, true, "0.0.0.0:8080", nil},
		{"LAN address, WeChat", []string{"--addr", "192.168.1.20:8080"}, true, "192.168.1.20:8080", nil},
		{"not host:port", []string{"--addr", "8080"}, true, "", []string{"8080"}},
		{"demo, development", []string{"--demo"}, false, "127.0.0.1:8080", nil},
		{"demo, WeChat", []string{"--demo"}, true, "", []string{"demo", "WECHAT_APPID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.wechat {
				env = creds
			}
			c, err := Load(tt.args, func(k string) string { return env[k] }, io.Discard)
			if tt.wantAddr == "" {
				if err == nil {
					t.Fatalf("started on %q, want refused", c.Addr)
				}
				for _, m := range tt.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("refusal %q does not name %s", err, m)
					}
				}
				return
			}
			if err != nil || c.Addr != tt.wantAddr || c.Development() == tt.wechat {
				t.Fatalf("Load = %q (development %v), %v; want %q", c.Addr, c.Development(), err, tt.wantAddr)
			}
		})
	}
}
