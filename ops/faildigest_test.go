package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFailDigest(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want string
	}{
		{"passing run", "ok  \tgithub.com/x/y\t1.2s\ntime=1 level=WARN msg=hi\n", ""},
		{
			"failed test among server logs",
			"time=1 level=WARN msg=a\n--- FAIL: TestX (1.00s)\n    x_test.go:12: wrong answer\n        more of it\ntime=2 level=WARN msg=b\nFAIL\nFAIL\tgithub.com/x/y\t3.0s\n",
			"--- FAIL: TestX (1.00s)\n    x_test.go:12: wrong answer\n        more of it\nFAIL\tgithub.com/x/y\t3.0s\n",
		},
		{
			"subtest",
			"--- FAIL: TestX (1.00s)\n    --- FAIL: TestX/a (0.50s)\n        x_test.go:3: no\nok  \tother\t1s\n",
			"--- FAIL: TestX (1.00s)\n    --- FAIL: TestX/a (0.50s)\n        x_test.go:3: no\n",
		},
		{
			"panic",
			"panic: boom\n\ngoroutine 1 [running]:\nmain.f()\nFAIL\tgithub.com/x/y\t0.1s\n",
			"panic: boom\n\ngoroutine 1 [running]:\nmain.f()\nFAIL\tgithub.com/x/y\t0.1s\n",
		},
		{"last line without newline", "--- FAIL: TestY (0.00s)", "--- FAIL: TestY (0.00s)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var through, digest bytes.Buffer
			d := &failDigest{w: &through}
			// Written in pieces that split lines, as a pipe delivers them.
			for chunk := range slicesOf(tt.out, 7) {
				if _, err := d.Write([]byte(chunk)); err != nil {
					t.Fatal(err)
				}
			}
			d.print(&digest)
			if through.String() != tt.out {
				t.Errorf("passed through %q, want %q", through.String(), tt.out)
			}
			got := strings.TrimPrefix(digest.String(), "ops test: what failed (repeated from above):\n")
			if i := strings.Index(got, "ops test: failed: "); i >= 0 {
				got = got[:i] // the one-line summary, checked below
			}
			if strings.Contains(tt.want, "FAIL") != strings.Contains(digest.String(), "ops test: failed: ") {
				t.Errorf("summary line missing or unexpected in %q", digest.String())
			}
			if got != tt.want {
				t.Errorf("digest:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// slicesOf yields s in pieces of n bytes.
func slicesOf(s string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}
