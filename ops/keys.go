package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/onebook/onebook/events/seal"
)

// runKeygen creates a checkpoint signing key: the private key goes to a file
// only its owner can read, the verifier key is printed and written beside it.
func runKeygen(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	name := fs.String("name", "onebook.local/ledger", "the log's origin (the key's name): one line, e.g. onebook.example.org/ledger")
	out := fs.String("out", "./data/seal.key", "private key file to create (the verifier key goes to FILE.pub)")
	force := fs.Bool("force", false, "overwrite an existing key file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	vkey, err := writeKeyPair(*out, *name, "a signing key", *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "wrote %s (private, keep it secret) and %s.pub\n", *out, *out)
	fmt.Fprintln(env.stdout, vkey)
	return nil
}

// writeKeyPair generates a signed-note key pair named name and writes the
// private key to out (mode 0600) and the verifier key to out.pub, refusing
// to overwrite an existing out unless force; what names the key in that
// refusal.
func writeKeyPair(out, name, what string, force bool) (vkey string, err error) {
	if _, err := os.Stat(out); err == nil && !force {
		return "", fmt.Errorf("%s exists; refusing to overwrite %s without --force", out, what)
	}
	skey, vkey, err := seal.GenerateKey(name)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(out, []byte(skey+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(out+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return "", err
	}
	return vkey, nil
}
