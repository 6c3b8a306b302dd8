// Package wechat is the only place onebook talks to WeChat: sign-in
// (code2session), phone numbers, subscribe messages, mini-program codes of
// gates and the content security check. The rest of onebook depends on the
// small Client interface; New returns the implementation over
// github.com/silenceper/wechat/v2.
//
// silenceper sends every request through one package variable,
// util.DefaultHTTPClient, to hard-coded https://api.weixin.qq.com URLs.
// InstallTransport replaces that variable once per process with a client
// that talks to api.weixin.qq.com only, or to a stand-in (the fake in
// backend/wechat/wxmock) when an API base is configured. See InstallTransport.
//
// Errors are *events.Error, so the HTTP layer maps them in one place:
// unauthorized (a login code WeChat rejects), invalid (bad input, such as
// an expired phone code or an over-long scene), forbidden (WeChat refuses
// for this user, e.g. ErrNotSubscribed), unavailable (WeChat down, busy,
// rate-limited or too slow: retry later) and internal (misconfiguration or
// an answer this package does not know). The Err of each carries an
// *APIError with WeChat's errcode for logs; secrets, access tokens and
// login codes are redacted from it.
package wechat

import (
	"context"
	"log/slog"
	"time"
)

// Client is what onebook needs from WeChat. Implementations are safe for
// concurrent use.
type Client interface {
	// Code2Session exchanges a wx.login code for the user's openid (and
	// unionid). The session key stays inside this package: onebook gets
	// the phone number through PhoneNumber and decrypts nothing, so it is
	// dropped at once.
	Code2Session(ctx context.Context, code string) (Session, error)
	// PhoneNumber resolves a getPhoneNumber code to the user's phone
	// number without country code (purePhoneNumber).
	PhoneNumber(ctx context.Context, code string) (string, error)
	// SendSubscribe sends a subscribe message (template) to a user. If
	// the user has not accepted the template, the error matches
	// ErrNotSubscribed: skip, do not retry.
	SendSubscribe(ctx context.Context, m SubscribeMessage) error
	// GateCode returns the PNG of a mini-program code
	// (wxacode.getUnlimited) that opens page with scene, at most 32
	// characters of [0-9A-Za-z!#$&'()*+,/:;=?@-._~]. page is a path of the
	// published mini-program without leading slash or query ("" = home).
	GateCode(ctx context.Context, scene, page string) ([]byte, error)
	// CheckText runs the content security check (msg_sec_check v2) on
	// text a user wrote; ok=false means WeChat judged it risky or wants it
	// reviewed. openID is the author, who must have opened the
	// mini-program within the last two hours (a WeChat rule).
	CheckText(ctx context.Context, openID, text string) (ok bool, err error)
}

// Session is who a wx.login code belongs to.
type Session struct {
	OpenID  string // the user in this mini-program
	UnionID string // the user across the WeChat Open Platform account; "" if the app has none
}

// SubscribeMessage is one subscribe message. Data maps the template's
// keywords (thing1, time2, ...) to their values; WeChat limits each value by
// keyword type (thing: 20 characters, name: 10, phrase: 5, ...).
type SubscribeMessage struct {
	ToUser     string // openid
	TemplateID string
	Page       string // opened on tap, e.g. "pages/pass/index?id=1"; "" = no jump
	Data       map[string]string
}

// Config configures New.
type Config struct {
	AppID, AppSecret string
	// APIBase replaces https://api.weixin.qq.com, e.g. http://127.0.0.1:9100
	// for the fake in backend/wechat/wxmock. "" is the real WeChat. It is process-wide:
	// see InstallTransport.
	APIBase string
	// Timeout bounds each call, token fetch included; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives the few events worth a line (an access token
	// refreshed after WeChat rejected it); nil means slog.Default().
	Logger *slog.Logger
}

// DefaultTimeout is the per-call timeout when Config.Timeout is 0.
const DefaultTimeout = 5 * time.Second
