package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/onebook/onebook/backend/embedded"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
)

// accountsServer is one embedded nats-server with a JetStream account per
// province cell (partition.Account: P11, P31, …), as the backend runs it
// with ONEBOOK_PARTITIONS, and one connection per account as its cell's
// nkey user: every cell's streams are apart from the others', under the
// same names.
type accountsServer struct {
	srv   *embedded.NATSServer
	conns map[events.Region]*nats.Conn
}

// startAccounts starts the server storing under dir with the sync policy
// of opts and the accounts of cells, and connects once to each.
func startAccounts(ctx context.Context, dir string, cells []events.Region, opts embedded.NATSOptions, log *slog.Logger) (*accountsServer, error) {
	users := make(map[events.Region]nkeys.KeyPair, len(cells))
	for _, c := range cells {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, err
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, err
		}
		users[c] = kp
		opts.Accounts = append(opts.Accounts, embedded.Account{Name: partition.Account(c), Users: []string{pub}})
	}
	opts.Dir, opts.Logger = dir, log
	srv, err := embedded.StartNATS(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS with accounts: %w", err)
	}
	s := &accountsServer{srv: srv, conns: map[events.Region]*nats.Conn{}}
	for _, c := range cells {
		kp := users[c]
		pub, _ := kp.PublicKey()
		nc, err := nats.Connect(srv.ClientURL(), nats.Nkey(pub, kp.Sign), nats.Name("onebook-bench-"+partition.Name(c)), nats.Timeout(5*time.Second))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("connect to account %s: %w", partition.Account(c), err)
		}
		s.conns[c] = nc
	}
	return s, nil
}

// jetStream returns a JetStream context in the account of cell c.
func (s *accountsServer) jetStream(c events.Region) (jetstream.JetStream, error) {
	nc, ok := s.conns[c]
	if !ok {
		return nil, errors.New("no account for cell " + string(c))
	}
	return jetstream.New(nc, jetstream.WithDefaultTimeout(appendTimeout))
}

// appendTimeout bounds one append or publish of the partitions part. A
// stream kept saturated by many clients queues their appends (each waits
// for those before it), well past the client's 5 s default on a loaded
// machine; the part measures throughput, and reports the waits as
// latencies.
const appendTimeout = time.Minute

func (s *accountsServer) close() {
	for _, nc := range s.conns {
		nc.Close()
	}
	s.srv.Shutdown()
}
