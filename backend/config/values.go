package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// values reads the parsed settings by flag name. The first setting that
// does not parse is kept in err, named; reads after it return zero values.
// So Load reads every setting in one straight list and checks err once,
// and each kind of setting is parsed, and its error worded, in one place.
type values struct {
	raw map[string]*string
	err error
}

// fail records the first error, naming the setting.
func (v *values) fail(name, format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf(name+": "+format, args...)
	}
}

// str is a setting as given, without surrounding spaces.
func (v *values) str(name string) string { return strings.TrimSpace(*v.raw[name]) }

// port is a TCP port (0 picks one).
func (v *values) port(name string) int {
	n, err := strconv.Atoi(v.str(name))
	if err != nil || n < 0 || n > 65535 {
		v.fail(name, "%q is not a port", v.str(name))
	}
	return n
}

// duration is a duration of at least least: 0 allows zero, 1ns asks
// for a positive one.
func (v *values) duration(name string, least time.Duration) time.Duration {
	d, err := time.ParseDuration(v.str(name))
	if err == nil && d >= least {
		return d
	}
	switch least {
	case 0:
		v.fail(name, "%q is not a duration", v.str(name))
	case time.Nanosecond:
		v.fail(name, "%q is not a positive duration", v.str(name))
	default:
		v.fail(name, "%q is not a duration of at least %s", v.str(name), shortDuration(least))
	}
	return d
}

// shortDuration writes 1m0s as 1m, as a user would.
func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// boolean is true or false.
func (v *values) boolean(name string) bool {
	b, err := strconv.ParseBool(v.str(name))
	if err != nil {
		v.fail(name, "%q is not true or false", v.str(name))
	}
	return b
}

// count is a non-negative number of what.
func (v *values) count(name, what string) uint64 {
	n, err := strconv.ParseUint(v.str(name), 10, 64)
	if err != nil {
		v.fail(name, "%q is not a number of %s", v.str(name), what)
	}
	return n
}

// perMinute is a rate limit: requests per minute, 0 for none.
func (v *values) perMinute(name string) int {
	n, err := strconv.Atoi(v.str(name))
	if err != nil || n < 0 {
		v.fail(name, "%q is not a number of requests per minute (0: no limit)", v.str(name))
	}
	return n
}

// hostPort is host:port, or "" for off.
func (v *values) hostPort(name string) string {
	s := v.str(name)
	if s == "off" {
		return ""
	}
	if s != "" {
		if _, _, err := net.SplitHostPort(s); err != nil {
			v.fail(name, "%q is not host:port or off", s)
		}
	}
	return s
}

// list is a comma-separated list, each item checked by parse.
func list[T any](v *values, name string, parse func(string) (T, error)) []T {
	var out []T
	for _, s := range strings.Split(v.str(name), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		x, err := parse(s)
		if err != nil {
			v.fail(name, "%w", err)
			continue
		}
		out = append(out, x)
	}
	return out
}
