package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/ops/witness"
)

// ops witness runs a witness: another party (a city CDC, an auditor) that
// cosigns onebook's checkpoints after checking them against the last one
// it cosigned. "serve" is a C2SP tlog-witness (package ops/witness):
// onebook, or any log speaking the protocol, pushes its checkpoints to
// POST /add-checkpoint and gets cosignature/v1 lines back. "run" is
// onebook's older pull-mode witness (witnesspull.go), kept working for the
// witnesses that run it.
func runWitness(ctx context.Context, env *environ, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "keygen":
			return witnessKeygen(env, args[1:])
		case "serve":
			return witnessServe(ctx, env, args[1:])
		case "run":
			return witnessRun(ctx, env, args[1:])
		}
	}
	fmt.Fprintln(env.stderr, `usage:
  ops witness keygen --name NAME [--out FILE]
      create a witness key; prints its cosignature/v1 verifier key (for ONEBOOK_WITNESS_PUSH
      and clients' witness policies) and writes FILE.pub (the plain key of the pull mode)
  ops witness serve --addr HOST:PORT --state DIR --key FILE --log [ORIGIN=]VERIFIERKEY ...
      C2SP tlog-witness: answer POST /add-checkpoint for these logs, cosigning with cosignature/v1
  ops witness run --url URL --key FILE --state DIR --origin-key KEY [--interval 10s] [--once]
      the older pull mode: fetch, check and cosign onebook's checkpoints (POST /ledger/cosignatures)`)
	return errors.New("want keygen, serve or run")
}

// witnessKeygen creates a witness key pair: the private key in a file only
// its owner reads, the verifier keys printed and written beside it.
func witnessKeygen(env *environ, args []string) error {
	fs := flag.NewFlagSet("witness keygen", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	name := fs.String("name", "", "the witness's name (the key's name), e.g. cdc.example.org/witness")
	out := fs.String("out", "./witness.key", "private key file to create (the verifier key goes to FILE.pub)")
	force := fs.Bool("force", false, "overwrite an existing key file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("--name is required")
	}
	if _, err := writeKeyPair(*out, *name, "a witness key", *force); err != nil {
		return err
	}
	v1, err := cosigV1KeyOf(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "wrote %s (private, keep it secret) and %s.pub (the plain key of the pull mode, ONEBOOK_WITNESSES);\n"+
		"give onebook's operator the cosignature/v1 verifier key below and your add-checkpoint URL for ONEBOOK_WITNESS_PUSH\n", *out, *out)
	fmt.Fprintln(env.stdout, v1)
	return nil
}

// cosigV1KeyOf reads a witness key file and returns its cosignature/v1
// verifier key.
func cosigV1KeyOf(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("witness key: %w", err)
	}
	name, key, err := seal.PrivateKey(string(b))
	if err != nil {
		return "", fmt.Errorf("witness key %s: %w", file, err)
	}
	return seal.CosigV1Key(name, key.Public().(ed25519.PublicKey)), nil
}

// witnessServe runs a C2SP tlog-witness until ctx ends.
func witnessServe(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("witness serve", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	addr := fs.String("addr", "127.0.0.1:7380", "listen address; put TLS in front of it (a reverse proxy) when logs reach it over a network")
	dir := fs.String("state", "", "state directory: per log, the latest checkpoint cosigned and evidence of misbehaviour (a pull-mode state directory is taken over)")
	keyFile := fs.String("key", "", "the witness's private key file (ops witness keygen)")
	var logs []witness.Log
	fs.Func("log", "a log to witness: <origin>=<verifier key>, or its verifier key when the key's name is the origin (onebook's is); repeat for more logs", func(s string) error {
		l, err := witness.ParseLog(s)
		if err != nil {
			return err
		}
		logs = append(logs, l)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || *dir == "" || len(logs) == 0 {
		return errors.New("--key, --state and at least one --log are required")
	}
	skey, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("witness key: %w", err)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	w, err := witness.New(witness.Config{Key: string(skey), Logs: logs, Dir: *dir, Log: env.log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	origins := make([]string, len(logs))
	for i, l := range logs {
		origins[i] = l.Origin
	}
	env.log.Info("witness serving C2SP tlog-witness", "addr", ln.Addr().String(), "key", w.VerifierKey(), "logs", strings.Join(origins, ","), "state", *dir)
	fmt.Fprintln(env.stdout, w.VerifierKey())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
