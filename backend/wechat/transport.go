package wechat

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// APIHost is the one host silenceper's hard-coded URLs name.
const APIHost = "api.weixin.qq.com"

// backstopTimeout bounds every HTTP exchange of silenceper. Calls that take
// a context are bounded by Config.Timeout sooner; two silenceper calls
// (subscribe send, getwxacodeunlimit) take none, and this is what keeps
// their requests from hanging forever on a stalled connection.
const backstopTimeout = 30 * time.Second

// ErrForeignHost is the error of a request to any host but APIHost.
var ErrForeignHost = errors.New("wechat: request to a host other than " + APIHost + " refused")

var installed struct {
	once sync.Once
	base string // normalised API base of the first call
}

// InstallTransport points silenceper at WeChat, once per process. Call it
// once at start-up from configuration (New calls it with Config.APIBase).
//
// It sets util.DefaultHTTPClient to a new client whose transport accepts
// only https://api.weixin.qq.com requests and refuses every other host with
// ErrForeignHost. With apiBase "" those requests go to WeChat; otherwise
// their scheme and host (and a path prefix, if apiBase has one) are
// rewritten onto apiBase, e.g. http://127.0.0.1:9100 for the fake in
// backend/wechat/wxmock.
//
// util.DefaultHTTPClient is global, so the first call decides for the whole
// process: a later call with the same base does nothing, one with a
// different base is an error (two WeChat back ends in one process cannot
// work). The variable is replaced, never modified: silenceper initialises
// it to http.DefaultClient itself, which the rest of the process shares.
func InstallTransport(apiBase string) error {
	base, err := parseBase(apiBase)
	if err != nil {
		return err
	}
	norm := ""
	if base != nil {
		norm = base.String()
	}
	installed.once.Do(func() {
		installed.base = norm
		next := http.DefaultTransport.(*http.Transport).Clone()
		util.DefaultHTTPClient = &http.Client{
			Transport: &rewriter{base: base, next: next},
			Timeout:   backstopTimeout,
		}
	})
	if installed.base != norm {
		return fmt.Errorf("wechat: transport already installed for %s; cannot switch to %s in the same process",
			describeBase(installed.base), describeBase(norm))
	}
	return nil
}

func describeBase(b string) string {
	if b == "" {
		return "https://" + APIHost
	}
	return b
}

// parseBase validates apiBase; nil means the real WeChat.
func parseBase(apiBase string) (*url.URL, error) {
	apiBase = strings.TrimRight(strings.TrimSpace(apiBase), "/")
	if apiBase == "" {
		return nil, nil
	}
	u, err := url.Parse(apiBase)
	if err != nil {
		return nil, fmt.Errorf("wechat: API base %q: %w", apiBase, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("wechat: API base %q: want http(s)://host[:port][/prefix]", apiBase)
	}
	return u, nil
}

// rewriter is the RoundTripper of util.DefaultHTTPClient.
type rewriter struct {
	base *url.URL // nil: send to WeChat unchanged
	next http.RoundTripper
}

func (t *rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isWeChat(req.URL) {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, even on error
		}
		return nil, fmt.Errorf("%w: %s://%s", ErrForeignHost, req.URL.Scheme, req.URL.Host)
	}
	if t.base == nil {
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not modify the caller's request: rewrite a clone.
	r := req.Clone(req.Context())
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.URL.Path = t.base.Path + r.URL.Path
	if r.URL.RawPath != "" {
		r.URL.RawPath = t.base.EscapedPath() + r.URL.RawPath
	}
	r.Host = ""
	return t.next.RoundTrip(r)
}

func isWeChat(u *url.URL) bool {
	return u.Scheme == "https" && strings.EqualFold(u.Hostname(), APIHost) &&
		(u.Port() == "" || u.Port() == "443") && u.User == nil
}
