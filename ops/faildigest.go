package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// failDigest passes go test's output through and keeps what says why it
// failed: each "--- FAIL" line with the test's own indented lines after it,
// each panic with the lines that follow, and each failed package. CI shows
// only the tail of a run's output, where the servers' logs of the last
// tests would otherwise hide which test failed, so ops test repeats the
// digest at the end.
type failDigest struct {
	w       io.Writer
	partial []byte   // an unfinished line
	kept    []string // the digest so far
	failed  []string // the "--- FAIL" and "FAIL<tab>" lines alone
	follow  int      // lines still to keep after a panic
	inFail  bool     // inside a failed test's indented lines
}

// digestLimit bounds the digest, which goes on CI's short tail.
const digestLimit = 120

// panicLines is how many lines of a panic's stack the digest keeps.
const panicLines = 30

func (d *failDigest) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	d.partial = append(d.partial, p[:n]...)
	for {
		i := bytes.IndexByte(d.partial, '\n')
		if i < 0 {
			break
		}
		d.line(string(d.partial[:i]))
		d.partial = d.partial[i+1:]
	}
	return n, err
}

func (d *failDigest) line(l string) {
	trimmed := strings.TrimLeft(l, " ")
	switch {
	case strings.HasPrefix(trimmed, "--- FAIL"):
		d.inFail = true
		d.keep(l)
		d.failed = append(d.failed, l)
	case strings.HasPrefix(l, "panic:"):
		d.follow = panicLines
		d.keep(l)
	case strings.HasPrefix(l, "FAIL\t"):
		d.inFail = false
		d.keep(l)
		d.failed = append(d.failed, l)
	case d.follow > 0:
		d.follow--
		d.keep(l)
	case d.inFail && strings.HasPrefix(l, " "):
		d.keep(l)
	default:
		d.inFail = false
	}
}

func (d *failDigest) keep(l string) {
	if len(d.kept) < digestLimit {
		d.kept = append(d.kept, l)
	}
}

// print writes the digest to w, if there is one, and then the failed
// tests and packages alone, which the shortest tail still shows.
func (d *failDigest) print(w io.Writer) {
	if len(d.partial) > 0 {
		d.line(string(d.partial))
		d.partial = nil
	}
	if len(d.kept) == 0 {
		return
	}
	fmt.Fprintf(w, "ops test: what failed (repeated from above):\n")
	for _, l := range d.kept {
		fmt.Fprintln(w, l)
	}
	if len(d.kept) == digestLimit {
		fmt.Fprintf(w, "ops test: (digest cut at %d lines)\n", digestLimit)
	}
	if len(d.failed) > 0 {
		fmt.Fprintf(w, "ops test: failed: %s\n", strings.Join(d.failed, " | "))
	}
}
