package wechat

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/onebook/onebook/events"
	"github.com/silenceper/wechat/v2/util"
)

// ErrNotSubscribed matches (errors.Is) the error of SendSubscribe when the
// user has not accepted the template or has used up their acceptances
// (errcode 43101). It is a normal outcome: skip the message.
var ErrNotSubscribed = errors.New("wechat: user has not accepted this subscribe message")

// APIError is the detail of a failed WeChat call, carried in the Err of the
// *events.Error the Client returns: for logs, never for clients.
type APIError struct {
	API     string // WeChat API, e.g. "jscode2session"
	ErrCode int64  // WeChat's errcode; 0 if the call failed before WeChat answered
	Detail  string // what went wrong; secrets, access tokens and codes redacted
	cause   error  // a context error or a sentinel, for errors.Is
}

func (e *APIError) Error() string {
	if e.ErrCode != 0 {
		return fmt.Sprintf("wechat %s: errcode %d: %s", e.API, e.ErrCode, e.Detail)
	}
	return fmt.Sprintf("wechat %s: %s", e.API, e.Detail)
}

func (e *APIError) Unwrap() error { return e.cause }

// WeChat APIs, as named in errors.
const (
	apiCode2Session = "jscode2session"
	apiPhone        = "getuserphonenumber"
	apiSubscribe    = "subscribeMessage.send"
	apiGateCode     = "getwxacodeunlimit"
	apiMsgSecCheck  = "msg_sec_check"
	apiToken        = "token" // the access token fetch inside any of the above
)

// outcome is how one errcode maps onto the domain's error vocabulary. Field
// names the argument of this package's method at fault.
type outcome struct {
	code     events.Code
	field    string
	message  string
	sentinel error
}

// commonOutcomes hold for every API.
var commonOutcomes = map[int64]outcome{
	-1:    {code: events.CodeUnavailable, message: "WeChat is busy; retry later"},
	40001: {code: events.CodeUnavailable, message: "WeChat rejected the access token; retry later"},
	40014: {code: events.CodeUnavailable, message: "WeChat rejected the access token; retry later"},
	42001: {code: events.CodeUnavailable, message: "WeChat rejected the access token; retry later"},
	45009: {code: events.CodeUnavailable, message: "WeChat's daily call quota is used up"},
	45011: {code: events.CodeUnavailable, message: "WeChat's call rate limit reached; retry later"},
	40002: {code: events.CodeInternal, message: "the WeChat integration is misconfigured"},
	40013: {code: events.CodeInternal, message: "the WeChat integration is misconfigured"}, // invalid appid
	40125: {code: events.CodeInternal, message: "the WeChat integration is misconfigured"}, // invalid secret
	40164: {code: events.CodeInternal, message: "the WeChat integration is misconfigured"}, // caller IP not on the whitelist
	41002: {code: events.CodeInternal, message: "the WeChat integration is misconfigured"},
	41004: {code: events.CodeInternal, message: "the WeChat integration is misconfigured"},
}

// apiOutcomes are the errcodes particular to one API.
var apiOutcomes = map[string]map[int64]outcome{
	apiToken: {
		// WeChat answers a wrong secret on /cgi-bin/token with 40001 too.
		40001: {code: events.CodeInternal, message: "the WeChat integration is misconfigured"},
	},
	apiCode2Session: {
		40029: {code: events.CodeUnauthorized, field: "code", message: "the WeChat login code is invalid or expired"},
		40163: {code: events.CodeUnauthorized, field: "code", message: "the WeChat login code was already used"},
		41008: {code: events.CodeUnauthorized, field: "code", message: "the WeChat login code is missing"},
		40226: {code: events.CodeForbidden, message: "WeChat blocks sign-in for this user (high risk)"},
	},
	apiPhone: {
		40029: {code: events.CodeInvalid, field: "code", message: "the phone number code is invalid, expired or already used"},
		40163: {code: events.CodeInvalid, field: "code", message: "the phone number code was already used"},
		41008: {code: events.CodeInvalid, field: "code", message: "the phone number code is missing"},
	},
	apiSubscribe: {
		40003: {code: events.CodeInvalid, field: "to_user", message: "not a user of this mini-program"},
		40037: {code: events.CodeInvalid, field: "template_id", message: "unknown subscribe message template"},
		41030: {code: events.CodeInvalid, field: "page", message: "no such page in the mini-program"},
		47003: {code: events.CodeInvalid, field: "data", message: "template data does not fit the template (a value too long or of the wrong kind)"},
		40097: {code: events.CodeInvalid, message: "WeChat rejected the message's arguments"},
		43101: {code: events.CodeForbidden, message: "the user has not accepted this notification", sentinel: ErrNotSubscribed},
	},
	apiGateCode: {
		40169: {code: events.CodeInvalid, field: "scene", message: "scene must be 1 to 32 allowed characters"},
		41030: {code: events.CodeInvalid, field: "page", message: "no such page in the published mini-program"},
		40097: {code: events.CodeInvalid, message: "WeChat rejected the code's arguments"},
	},
	apiMsgSecCheck: {
		40003: {code: events.CodeInvalid, field: "openid", message: "not a user of this mini-program"},
		61010: {code: events.CodeInvalid, field: "openid", message: "the user has not opened the mini-program in the last two hours"},
		40097: {code: events.CodeInvalid, field: "text", message: "WeChat rejected the text's arguments"},
	},
}

// tokenRejected reports whether err is WeChat rejecting the access token of
// a call, after which a fresh token may help. A failed fetch of the token
// itself is not.
func tokenRejected(err error) bool {
	code, ok := errcodeOf(err)
	return ok && (code == 40001 || code == 40014 || code == 42001) && !isTokenFetch(err)
}

// isTokenFetch reports whether err is silenceper failing to fetch an access
// token (credential.GetTokenFromServerContext: "get access_token error").
func isTokenFetch(err error) bool {
	return strings.Contains(err.Error(), "get access_token error")
}

// errcodeRE finds the errcode in silenceper's errors: some are
// *util.CommonError, others (code2session, token fetch, getwxacode) only
// fmt.Errorf strings with "errcode=N".
var errcodeRE = regexp.MustCompile(`errcode=(-?\d+)`)

// errcodeOf returns WeChat's errcode in err, if WeChat answered with one.
func errcodeOf(err error) (int64, bool) {
	if err == nil {
		return 0, false
	}
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return ce.ErrCode, true
	}
	if m := errcodeRE.FindStringSubmatch(err.Error()); m != nil {
		if n, perr := strconv.ParseInt(m[1], 10, 64); perr == nil {
			return n, true
		}
	}
	return 0, false
}

// secretRE finds the values of query parameters that are credentials in the
// URLs silenceper puts in its errors (net/http's *url.Error and its own
// "uri=..." messages alike).
var secretRE = regexp.MustCompile(`(?i)\b(secret|appsecret|access_token|js_code)=[^&\s"']*`)

// redact removes credentials from a message bound for logs.
func (c *client) redact(s string) string {
	s = secretRE.ReplaceAllString(s, "${1}=REDACTED")
	if c.secret != "" {
		s = strings.ReplaceAll(s, c.secret, "REDACTED")
	}
	return s
}

// fail maps a failed call of api onto an *events.Error.
func (c *client) fail(api string, err error) error {
	if isTokenFetch(err) {
		api = apiToken
	}
	detail := &APIError{API: api, Detail: c.redact(err.Error())}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		detail.cause = contextErr(err)
		return &events.Error{Code: events.CodeUnavailable, Message: "WeChat did not answer in time", Err: detail}
	case errors.Is(err, ErrForeignHost):
		detail.cause = ErrForeignHost
		return &events.Error{Code: events.CodeInternal, Message: "the WeChat integration is misconfigured", Err: detail}
	}
	code, ok := errcodeOf(err)
	if !ok {
		return &events.Error{Code: events.CodeUnavailable, Message: "WeChat cannot be reached; retry later", Err: detail}
	}
	detail.ErrCode = code
	o, ok := apiOutcomes[api][code]
	if !ok {
		o, ok = commonOutcomes[code]
	}
	if !ok {
		return &events.Error{Code: events.CodeInternal, Message: "WeChat refused the call", Err: detail}
	}
	detail.cause = o.sentinel
	return &events.Error{Code: o.code, Field: o.field, Message: o.message, Err: detail}
}

// contextErr returns the context error inside err, for errors.Is on the
// result; it does not leak the rest of err (which may hold URLs).
func contextErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// invalid reports bad input caught before calling WeChat.
func invalid(field, format string, args ...any) error {
	return events.Invalid(field, format, args...)
}
