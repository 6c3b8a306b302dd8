// Package loopback picks loopback TCP ports for servers that tests and the
// local cluster stop and start again on the same port.
//
// A port from the kernel's ephemeral range (what listening on port 0
// gives) is also what the kernel hands out as the local port of outgoing
// connections, from any process. One such connection made between a
// server's stop and its restart takes the port, and the restart fails with
// "address already in use". (CI's restarts failed so twice; the cause
// there was a listener the backend left open, since closed by
// backend/app's serveHTTP, but on a machine where many test binaries run
// side by side the hazard is real.) Ports are therefore picked below that
// range, where the kernel never places a connection on its own.
package loopback

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// Below the ephemeral range, ports are picked from [lowest, ephemeral
// start); lowest stays clear of the well-known and commonly configured
// ports.
const lowest = 20000

// rangeFile holds the kernel's ephemeral port range on Linux.
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// attempts bounds the random picks per port: a busy pick is tried again.
const attempts = 200

// Ports returns n distinct loopback ports that were free a moment ago,
// outside the ephemeral range where the kernel says what it is (Linux)
// and it leaves room; elsewhere ports the kernel picks.
func Ports(n int) ([]int, error) {
	lo, hi, ok := belowEphemeral()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for len(ports) < n {
		ln, err := listen(lo, hi, ok)
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Port is Ports(1).
func Port() (int, error) {
	ps, err := Ports(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

func listen(lo, hi int, ranged bool) (net.Listener, error) {
	if ranged {
		var last error
		for range attempts {
			p := lo + rand.IntN(hi-lo)
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err == nil {
				return ln, nil
			}
			last = err
		}
		return nil, fmt.Errorf("no free loopback port in [%d, %d) after %d tries: %w", lo, hi, attempts, last)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	return ln, nil
}

// belowEphemeral returns [lo, hi) below the ephemeral range, and whether
// there is such a range of at least a thousand ports.
func belowEphemeral() (lo, hi int, ok bool) {
	start, err := ephemeralStart(rangeFile)
	if err != nil || start-lowest < 1000 {
		return 0, 0, false
	}
	return lowest, start, true
}

// ephemeralStart reads the first port of the ephemeral range from file
// ("32768\t60999").
func ephemeralStart(file string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var start, end int
	if _, err := fmt.Fscan(bufio.NewReader(f), &start, &end); err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	if start <= 0 || end < start || end > 65535 {
		return 0, errors.New(file + ": not a port range")
	}
	return start, nil
}
