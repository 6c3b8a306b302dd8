package embedded

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// user makes an nkey user, returning its public key and the file of its
// seed (as a cell's credentials file).
func user(t *testing.T, dir, name string) (pub, seedFile string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ = kp.PublicKey()
	seedFile = filepath.Join(dir, name+".nkey")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return pub, seedFile
}

// TestAccountsIsolateCells starts the server with two accounts, as a
// partitioned deployment does: each has JetStream and a stream of the same
// name, LEDGER, and neither sees the other's; a client without credentials,
// or with a key of no account, is refused.
func TestAccountsIsolateCells(t *testing.T) {
	ctx := callCtx(t)
	dir := t.TempDir()
	p31, seed31 := user(t, dir, "p31")
	p44, seed44 := user(t, dir, "p44")
	_, stranger := user(t, dir, "stranger")
	srv, err := StartNATS(ctx, NATSOptions{Dir: filepath.Join(dir, "nats"), Logger: testLogger(),
		Accounts: []Account{{Name: "P31", Users: []string{p31}}, {Name: "P44", Users: []string{p44}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	connect := func(seed string) (jetstream.JetStream, error) {
		var opts []nats.Option
		if seed != "" {
			o, err := nats.NkeyOptionFromSeed(seed)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, o)
		}
		nc, err := nats.Connect(srv.ClientURL(), opts...)
		if err != nil {
			return nil, err
		}
		t.Cleanup(nc.Close)
		return jetstream.New(nc)
	}
	for _, seed := range []string{"", stranger} {
		if _, err := connect(seed); !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("client with seed %q: %v, want an authorization error", seed, err)
		}
	}
	js31, err := connect(seed31)
	if err != nil {
		t.Fatal(err)
	}
	js44, err := connect(seed44)
	if err != nil {
		t.Fatal(err)
	}
	for _, js := range []jetstream.JetStream{js31, js44} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LEDGER", Subjects: []string{"ledger.>"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js31.Publish(ctx, "ledger.31.x", []byte("31")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		js   jetstream.JetStream
		want uint64
	}{{js31, 1}, {js44, 0}} {
		st, err := tc.js.Stream(ctx, "LEDGER")
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil || info.State.Msgs != tc.want {
			t.Errorf("LEDGER holds %d messages (%v), want %d", info.State.Msgs, err, tc.want)
		}
	}
}

func TestAccountsConfig(t *testing.T) {
	got := AccountsConfig([]Account{
		{Name: "P31", Users: []string{"UA"}, Exports: []Export{{Service: "$JS.API.CONSUMER.CREATE.OUTBOX.>", Accounts: []string{"NATION"}}, {Stream: "deliver.p31.>"}}},
		{Name: "NATION", Users: []string{"UB", "UC"}, Imports: []Import{{Account: "P31", Service: "$JS.API.CONSUMER.CREATE.OUTBOX.>", To: "$JS.P31.API.CONSUMER.CREATE.OUTBOX.>"}, {Account: "P31", Stream: "deliver.p31.>"}}},
	})
	want := `accounts {
  "P31": {
    jetstream: enabled
    users: [{nkey: "UA"}]
    exports: [
      {service: "$JS.API.CONSUMER.CREATE.OUTBOX.>", accounts: ["NATION"]}
      {stream: "deliver.p31.>"}
    ]
  }
  "NATION": {
    jetstream: enabled
    users: [{nkey: "UB"}, {nkey: "UC"}]
    imports: [
      {service: {account: "P31", subject: "$JS.API.CONSUMER.CREATE.OUTBOX.>"}, to: "$JS.P31.API.CONSUMER.CREATE.OUTBOX.>"}
      {stream: {account: "P31", subject: "deliver.p31.>"}}
    ]
  }
}
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(got, "$G") {
		t.Fatal("the global account is configured")
	}
}
