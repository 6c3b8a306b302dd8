package config

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/onebook/onebook/events"
)

func TestPartitions(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		err  string // "" loads
	}{
		{name: "default: single ledger"},
		{name: "embedded", env: map[string]string{"ONEBOOK_PARTITIONS": "44,11,31,51"}},
		{name: "external with creds dir", args: []string{"--partitions=31", "--nats-url=nats://a:4222", "--nats-creds-dir=/etc/onebook/nats"}},
		{name: "bad code", args: []string{"--partitions=31,3101"}, err: "partitions:"},
		{name: "duplicate", args: []string{"--partitions=31,31"}, err: "partitions:"},
		{name: "one seal key", args: []string{"--partitions=31", "--seal-key=/k"}, err: "seal-key"},
		{name: "one user", args: []string{"--partitions=31", "--nats-url=nats://a:4222", "--nats-creds=/a.creds", "--nats-creds-dir=/d"}, err: "nats-creds"},
		{name: "external without creds dir", args: []string{"--partitions=31", "--nats-url=nats://a:4222"}, err: "nats-creds-dir"},
		{name: "creds dir without partitions", args: []string{"--nats-creds-dir=/d"}, err: "nats-creds-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.args, env(tc.env), io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Partitions) == 0 && (c.Cells() != nil || c.NATSCredsDir != "" || c.Cell != "") {
				t.Fatalf("the default is not the single ledger: %+v", c)
			}
		})
	}
}

func TestCells(t *testing.T) {
	c, err := Load([]string{"--partitions=31,11", "--data=/var/onebook", "--origin=ledger.example.cn", "--mongo-db=ob", "--demo"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.NATSCredsDir != "/var/onebook/nats-users" {
		t.Errorf("creds dir %q", c.NATSCredsDir)
	}
	cells := c.Cells()
	var codes []events.Region
	for _, cc := range cells {
		codes = append(codes, cc.Cell)
	}
	if !slices.Equal(codes, []events.Region{"11", "31", events.National}) {
		t.Fatalf("cells %v", codes)
	}
	for _, tc := range []struct {
		cell                  Config
		data, key, origin, db string
		demo                  bool
	}{
		{cells[0], "/var/onebook/p11", "/var/onebook/p11/seal.key", "ledger.example.cn/p/11", "ob_p11", true},
		{cells[1], "/var/onebook/p31", "/var/onebook/p31/seal.key", "ledger.example.cn/p/31", "ob_p31", true},
		{cells[2], "/var/onebook/nation", "/var/onebook/nation/seal.key", "ledger.example.cn/national", "ob_nation", false},
	} {
		cc := tc.cell
		if cc.DataDir != tc.data || cc.SealKeyFile != tc.key || cc.Origin != tc.origin || cc.MongoDB != tc.db || cc.Demo != tc.demo || cc.Partitions != nil {
			t.Errorf("cell %s: data %q key %q origin %q db %q demo %v partitions %v", cc.Cell, cc.DataDir, cc.SealKeyFile, cc.Origin, cc.MongoDB, cc.Demo, cc.Partitions)
		}
		if cc.Addr != c.Addr || cc.NATSCredsDir != c.NATSCredsDir || cc.MetricsAddr != c.MetricsAddr {
			t.Errorf("cell %s does not share the process-wide settings", cc.Cell)
		}
	}
}
