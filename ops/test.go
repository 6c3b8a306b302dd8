package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
)

// runTest is the one test command of the README: it installs what the tests
// need on a fresh machine, then vets and runs every test.
func runTest(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	short := fs.Bool("short", false, "skip the slow tests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The Go toolchain fetches modules itself; nothing else is needed yet.
	steps := [][]string{
		{"go", "mod", "download"},
		{"go", "vet", "./..."},
	}
	test := []string{"go", "test", "-count=1", "-timeout=15m"}
	if *short {
		test = append(test, "-short")
	}
	steps = append(steps, append(test, "./..."))
	for _, s := range steps {
		fmt.Fprintf(env.stderr, "ops test: %v\n", s)
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Stdout, cmd.Stderr, cmd.Env = env.stdout, env.stderr, os.Environ()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%v: %w", s, err)
		}
	}
	return nil
}
