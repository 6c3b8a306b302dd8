package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
)

// chromiumPath is where Debian's chromium package puts the browser that the
// dashboard's browser test drives (ops/dashboard_test.go).
const chromiumPath = "/usr/bin/chromium"

// cjkFont is a small Chinese font (Debian's fonts-wqy-microhei), so that
// the browser test's screenshots show Chinese names rather than boxes.
const cjkFont = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

// runTest is the one test command of the README: it installs what the tests
// need on a fresh machine, then vets and runs every test.
func runTest(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	short := fs.Bool("short", false, "skip the slow tests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := installBrowser(ctx, env); err != nil {
		return err
	}
	if err := installMiniprogram(ctx, env); err != nil {
		return err
	}
	// The Go toolchain fetches modules itself.
	steps := [][]string{
		{"go", "mod", "download"},
		{"go", "vet", "./..."},
	}
	// The ops package (the end-to-end tests, the cluster faults) takes about
	// 7 minutes on 2 loaded CPUs, plus one and a half to two and a half for
	// the faults with a ledger per province; the timeout only stops a hang.
	test := []string{"go", "test", "-count=1", "-timeout=25m"}
	if *short {
		test = append(test, "-short")
	}
	steps = append(steps, append(test, "./..."))
	for _, s := range steps {
		fmt.Fprintf(env.stderr, "ops test: %v\n", s)
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		// go test writes test output to stdout, the build's to stderr.
		out, errs := &failDigest{w: env.stdout}, &failDigest{w: env.stderr}
		cmd.Stdout, cmd.Stderr, cmd.Env = out, errs, os.Environ()
		if err := cmd.Run(); err != nil {
			out.print(env.stderr)
			errs.print(env.stderr)
			return fmt.Errorf("%v: %w", s, err)
		}
	}
	return nil
}

// installBrowser installs Debian's chromium (and a Chinese font) with
// apt-get when /usr/bin/chromium is missing, through sudo when not root.
// Without apt-get, or without root and sudo, it says so and goes on: the
// browser test then skips, or fails when CI=true.
func installBrowser(ctx context.Context, env *environ) error {
	var pkgs []string
	if _, err := os.Stat(chromiumPath); err != nil {
		pkgs = append(pkgs, "chromium")
	}
	if _, err := os.Stat(cjkFont); err != nil && len(pkgs) > 0 {
		pkgs = append(pkgs, "fonts-wqy-microhei")
	}
	if len(pkgs) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		fmt.Fprintf(env.stderr, "ops test: %s is missing and there is no apt-get to install %v: the browser test will skip (or fail with CI=true)\n", chromiumPath, pkgs)
		return nil
	}
	var prefix []string
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("sudo"); err != nil {
			fmt.Fprintf(env.stderr, "ops test: %s is missing and installing %v needs root (no sudo here): the browser test will skip (or fail with CI=true)\n", chromiumPath, pkgs)
			return nil
		}
		prefix = []string{"sudo"}
	}
	fmt.Fprintf(env.stderr, "ops test: %s is missing: installing %v from Debian for the dashboard's browser test\n", chromiumPath, pkgs)
	apt := append(prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get")
	for _, s := range [][]string{
		append(append([]string(nil), apt...), "update"),
		append(append(append([]string(nil), apt...), "install", "-y"), pkgs...),
	} {
		fmt.Fprintf(env.stderr, "ops test: %v\n", s)
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Stdout, cmd.Stderr, cmd.Stdin = env.stdout, env.stderr, os.Stdin
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("install %v: %v: %w", pkgs, s, err)
		}
	}
	return nil
}

// miniprogramDir holds the mini-program's project and its package-lock.json.
const miniprogramDir = "miniprogram"

// installMiniprogram installs the mini-program's npm packages exactly as
// its committed lockfile names them (npm ci, into miniprogram/node_modules)
// for TestMiniProgram. Without npm it says so and goes on: that test then
// skips, or fails when CI=true.
func installMiniprogram(ctx context.Context, env *environ) error {
	if _, err := exec.LookPath("npm"); err != nil {
		fmt.Fprintf(env.stderr, "ops test: npm is missing: the mini-program's tests will skip (or fail with CI=true)\n")
		return nil
	}
	s := []string{"npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"}
	fmt.Fprintf(env.stderr, "ops test: (in %s) %v\n", miniprogramDir, s)
	cmd := exec.CommandContext(ctx, s[0], s[1:]...)
	cmd.Dir = miniprogramDir
	cmd.Stdout, cmd.Stderr = env.stdout, env.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v in %s: %w", s, miniprogramDir, err)
	}
	return nil
}
