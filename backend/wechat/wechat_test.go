package wechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onebook/onebook/backend/wechat/wxmock"
	"github.com/onebook/onebook/events"
	"github.com/silenceper/wechat/v2/util"
)

const (
	appID  = "wx-test-app"
	secret = "s3cret-never-logged"
)

var (
	mock    *wxmock.Server
	apiBase string
	// fault, when set, answers instead of the fake: tests use it to make
	// WeChat slow or broken. Only tests that do not run in parallel set it.
	fault atomic.Pointer[http.HandlerFunc]
)

// TestMain installs the process-wide transport once, onto a fake WeChat.
func TestMain(m *testing.M) {
	mock = wxmock.New(appID, secret)
	h := mock.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := fault.Load(); f != nil {
			(*f)(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	apiBase = srv.URL
	if err := InstallTransport(apiBase); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

func newClient(t *testing.T, cfg Config) Client {
	t.Helper()
	if cfg.AppID == "" {
		cfg.AppID, cfg.AppSecret = appID, secret
	}
	cfg.APIBase = apiBase
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setFault(t *testing.T, f http.HandlerFunc) {
	t.Helper()
	fault.Store(&f)
	t.Cleanup(func() { fault.Store(nil) })
}

// wantErr checks the domain code and field of err, and that no secret leaked.
func wantErr(t *testing.T, err error, code events.Code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	var e *events.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *events.Error", err, err)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("error %q: code %s field %q, want code %s field %q", err, e.Code, e.Field, code, field)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "mock_") {
		t.Fatalf("error leaks a secret or access token: %v", err)
	}
}

func wantErrcode(t *testing.T, err error, errcode int64) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) || ae.ErrCode != errcode {
		t.Fatalf("error %v: want an *APIError with errcode %d", err, errcode)
	}
}

func TestCode2Session(t *testing.T) {
	c := newClient(t, Config{})
	ctx := t.Context()
	for _, code := range []string{
		"0b3Xyz000aBcDe1Fg2Hi3Jk4Lm5No6Pq",
		"a&appid=other&js_code=x", // must reach WeChat as one code, not extra parameters
		"phone:13812345678",
	} {
		s, err := c.Code2Session(ctx, code)
		if err != nil {
			t.Fatalf("Code2Session(%q): %v", code, err)
		}
		want := Session{OpenID: wxmock.OpenID(appID, code), UnionID: wxmock.UnionID(appID, code)}
		if s != want {
			t.Fatalf("Code2Session(%q) = %+v, want %+v", code, s, want)
		}
	}

	_, err := c.Code2Session(ctx, "bad-code")
	wantErr(t, err, events.CodeUnauthorized, "code")
	wantErrcode(t, err, 40029)

	_, err = c.Code2Session(ctx, "")
	wantErr(t, err, events.CodeInvalid, "code")
	_, err = c.Code2Session(ctx, strings.Repeat("x", maxCodeLen+1))
	wantErr(t, err, events.CodeInvalid, "code")
}

func TestWrongSecret(t *testing.T) {
	c := newClient(t, Config{AppID: appID, AppSecret: "wrong-secret"})
	_, err := c.Code2Session(t.Context(), "0b3Xyz")
	wantErr(t, err, events.CodeInternal, "")
	wantErrcode(t, err, 40125)
	// The token fetch fails the same way, and is not retried as a stale token.
	_, err = c.PhoneNumber(t.Context(), "phone:13812345678")
	wantErr(t, err, events.CodeInternal, "")
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("error leaks the secret: %v", err)
	}
}

func TestPhoneNumber(t *testing.T) {
	c := newClient(t, Config{})
	ctx := t.Context()
	n, err := c.PhoneNumber(ctx, "phone:13812345678")
	if err != nil || n != "13812345678" {
		t.Fatalf("PhoneNumber = %q, %v; want 13812345678", n, err)
	}
	code := "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"
	if n, err := c.PhoneNumber(ctx, code); err != nil || n != wxmock.PhoneNumber(appID, code) {
		t.Fatalf("PhoneNumber = %q, %v; want %s", n, err, wxmock.PhoneNumber(appID, code))
	}
	_, err = c.PhoneNumber(ctx, "bad")
	wantErr(t, err, events.CodeInvalid, "code")
	wantErrcode(t, err, 40029)
}

func TestAccessTokenRefreshedAfterRejection(t *testing.T) {
	c := newClient(t, Config{})
	ctx := t.Context()
	if _, err := c.PhoneNumber(ctx, "phone:13800000001"); err != nil {
		t.Fatal(err)
	}
	// Another process fetched a token, or the secret was reset: the cached
	// token is refused from now on.
	mock.RevokeTokens()
	if n, err := c.PhoneNumber(ctx, "phone:13800000002"); err != nil || n != "13800000002" {
		t.Fatalf("after revocation: %q, %v; want the number with a fresh token", n, err)
	}
	mock.RevokeTokens()
	if err := c.SendSubscribe(ctx, SubscribeMessage{ToUser: "o-refresh", TemplateID: "T"}); err != nil {
		t.Fatalf("SendSubscribe after revocation: %v", err)
	}
}

func TestSendSubscribe(t *testing.T) {
	c := newClient(t, Config{})
	ctx := t.Context()
	m := SubscribeMessage{ToUser: "o-send-1", TemplateID: "TPL-visitor", Page: "pages/visitor/index?id=7",
		Data: map[string]string{"thing1": "访客张三已获批准", "time2": "2020-02-03 10:00"}}
	if err := c.SendSubscribe(ctx, m); err != nil {
		t.Fatal(err)
	}
	var got *wxmock.SubscribeMessage
	for _, s := range mock.Sent() {
		if s.ToUser == m.ToUser {
			got = &s
		}
	}
	if got == nil || got.TemplateID != m.TemplateID || got.Page != m.Page ||
		len(got.Data) != 2 || got.Data["thing1"] != m.Data["thing1"] || got.Data["time2"] != m.Data["time2"] {
		t.Fatalf("WeChat received %+v, want %+v", got, m)
	}

	mock.Unsubscribe("o-declined")
	err := c.SendSubscribe(ctx, SubscribeMessage{ToUser: "o-declined", TemplateID: "T"})
	wantErr(t, err, events.CodeForbidden, "")
	if !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("error %v does not match ErrNotSubscribed", err)
	}

	for _, tc := range []struct {
		name    string
		m       SubscribeMessage
		field   string
		errcode int64 // 0: caught before calling WeChat
	}{
		{"no user", SubscribeMessage{TemplateID: "T"}, "to_user", 0},
		{"no template", SubscribeMessage{ToUser: "o"}, "template_id", 0},
		{"page slash", SubscribeMessage{ToUser: "o", TemplateID: "T", Page: "/pages/x"}, "page", 0},
		{"unknown template", SubscribeMessage{ToUser: "o", TemplateID: "bad-template"}, "template_id", 40037},
		{"thing too long", SubscribeMessage{ToUser: "o", TemplateID: "T",
			Data: map[string]string{"thing1": strings.Repeat("长", 21)}}, "data", 47003},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.SendSubscribe(ctx, tc.m)
			wantErr(t, err, events.CodeInvalid, tc.field)
			if tc.errcode != 0 {
				wantErrcode(t, err, tc.errcode)
			}
		})
	}
}

func TestGateCode(t *testing.T) {
	c := newClient(t, Config{})
	ctx := t.Context()
	scene, page := "g=110101001001-03", "pages/checkin/index"
	img, err := c.GateCode(ctx, scene, page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(img, pngMagic) {
		t.Fatalf("not a PNG: % x", img[:min(8, len(img))])
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	want, _ := wxmock.CodeImage(scene, page)
	if !bytes.Equal(img, want) {
		t.Fatal("GateCode did not return the image WeChat sent")
	}
	other, err := c.GateCode(ctx, "g=110101001001-04", page)
	if err != nil || bytes.Equal(other, img) {
		t.Fatalf("another gate: err %v, same image %v", err, bytes.Equal(other, img))
	}

	for _, tc := range []struct{ name, scene, page, field string }{
		{"empty scene", "", page, "scene"},
		{"long scene", strings.Repeat("1", 33), page, "scene"},
		{"chinese scene", "门1", page, "scene"},
		{"percent scene", "a%20b", page, "scene"},
		{"page slash", "g=1", "/pages/checkin/index", "page"},
		{"page query", "g=1", "pages/checkin/index?g=1", "page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GateCode(ctx, tc.scene, tc.page)
			wantErr(t, err, events.CodeInvalid, tc.field)
		})
	}
	if _, err := c.GateCode(ctx, strings.Repeat("z", 32), ""); err != nil {
		t.Fatalf("32-character scene for the home page: %v", err)
	}
}

func TestCheckText(t *testing.T) {
	c := newClient(t, Config{})
	ctx := t.Context()
	for _, tc := range []struct {
		text string
		ok   bool
	}{
		{"探望住在3栋的父母", true},
		{"这里有违禁内容", false},
		{"", true},
		{"   ", true},
	} {
		ok, err := c.CheckText(ctx, "o-author", tc.text)
		if err != nil || ok != tc.ok {
			t.Fatalf("CheckText(%q) = %v, %v; want %v", tc.text, ok, err, tc.ok)
		}
	}
	_, err := c.CheckText(ctx, "", "x")
	wantErr(t, err, events.CodeInvalid, "openid")
	_, err = c.CheckText(ctx, "o-author", strings.Repeat("字", maxTextRunes+1))
	wantErr(t, err, events.CodeTooLarge, "text")
	if ok, err := c.CheckText(ctx, "o-author", strings.Repeat("字", maxTextRunes)); err != nil || !ok {
		t.Fatalf("text at the limit: %v, %v", ok, err)
	}
}

// TestConcurrentCalls runs calls in parallel, so that -race sees the access
// token cache shared between them.
func TestConcurrentCalls(t *testing.T) {
	c := newClient(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			want := fmt.Sprintf("139%08d", i)
			n, err := c.PhoneNumber(t.Context(), "phone:"+want)
			if err == nil && n != want {
				err = fmt.Errorf("got %s, want %s", n, want)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// hang makes every request to the fake WeChat hang until its client gives
// up or the test ends.
func hang(t *testing.T) {
	release := make(chan struct{})
	setFault(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
}

func TestTimeouts(t *testing.T) {
	hang(t)
	c := newClient(t, Config{Timeout: 50 * time.Millisecond})
	ctx := t.Context()

	calls := map[string]func() error{
		"Code2Session": func() error { _, err := c.Code2Session(ctx, "slow"); return err },
		"PhoneNumber":  func() error { _, err := c.PhoneNumber(ctx, "slow"); return err },
		// These two run silenceper calls that take no context.
		"SendSubscribe": func() error { return c.SendSubscribe(ctx, SubscribeMessage{ToUser: "o", TemplateID: "T"}) },
		"GateCode":      func() error { _, err := c.GateCode(ctx, "g=1", ""); return err },
		"CheckText":     func() error { _, err := c.CheckText(ctx, "o", "text"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := call()
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("returned after %v, want about the 50ms timeout", d)
			}
			wantErr(t, err, events.CodeUnavailable, "")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v does not match context.DeadlineExceeded", err)
			}
		})
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := c.GateCode(cancelled, "g=1", "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v, want context.Canceled", err)
	}
}

func TestWeChatBroken(t *testing.T) {
	c := newClient(t, Config{})
	setFault(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	})
	// silenceper puts the whole URL (appid, secret, code) into its error;
	// none of it may reach ours.
	_, err := c.Code2Session(t.Context(), "0b3Xyz-private-code")
	wantErr(t, err, events.CodeUnavailable, "")
	if strings.Contains(err.Error(), "0b3Xyz-private-code") {
		t.Fatalf("error leaks the login code: %v", err)
	}

	setFault(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		io.WriteString(w, "not an image")
	})
	_, err = c.GateCode(t.Context(), "g=1", "")
	wantErr(t, err, events.CodeUnavailable, "")
}

func TestTransportRefusesForeignHosts(t *testing.T) {
	for _, target := range []string{
		"https://example.com/cgi-bin/token",
		"http://api.weixin.qq.com/cgi-bin/token",         // plain http: never what silenceper sends
		"https://api.weixin.qq.com:8443/cgi-bin/token",   // another port
		"https://api.weixin.qq.com.evil.example/cgi-bin", // suffix trick
		"https://qyapi.weixin.qq.com/cgi-bin/gettoken",   // WeCom: not onebook's business
	} {
		resp, err := util.DefaultHTTPClient.Get(target)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s succeeded, want it refused", target)
		}
		if !errors.Is(err, ErrForeignHost) {
			t.Fatalf("GET %s: %v, want ErrForeignHost", target, err)
		}
	}
	// The one host allowed reaches the fake.
	resp, err := util.DefaultHTTPClient.Get("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=" + appID + "&secret=" + secret)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "access_token") {
		t.Fatalf("token call through the transport answered %s", body)
	}
	if util.DefaultHTTPClient == http.DefaultClient {
		t.Fatal("the transport was installed into http.DefaultClient, which the whole process shares")
	}
}

func TestInstallTransportOnce(t *testing.T) {
	if err := InstallTransport(apiBase); err != nil {
		t.Fatalf("same base again: %v", err)
	}
	if err := InstallTransport(apiBase + "/"); err != nil {
		t.Fatalf("same base with a trailing slash: %v", err)
	}
	if err := InstallTransport("http://127.0.0.1:1"); err == nil {
		t.Fatal("another base: no error")
	}
	if err := InstallTransport(""); err == nil {
		t.Fatal("the real WeChat after the fake: no error")
	}
	if _, err := New(Config{AppID: appID, AppSecret: secret, APIBase: "http://127.0.0.1:1"}); err == nil {
		t.Fatal("New with another base: no error")
	}
	for _, bad := range []string{"127.0.0.1:9100", "ftp://host", "http://", "http://h/?q=1", "http://u:p@h"} {
		if err := InstallTransport(bad); err == nil || strings.Contains(err.Error(), "already installed") {
			t.Fatalf("InstallTransport(%q): %v, want a validation error", bad, err)
		}
	}
	if _, err := New(Config{AppID: appID, APIBase: apiBase}); err == nil {
		t.Fatal("New without a secret: no error")
	}
}

// recorder is a RoundTripper that records the request it was given.
type recorder struct{ got *http.Request }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = req
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

func TestRewriter(t *testing.T) {
	for _, tc := range []struct{ base, in, want string }{
		{"http://127.0.0.1:9100", "https://api.weixin.qq.com/sns/jscode2session?appid=a&js_code=c",
			"http://127.0.0.1:9100/sns/jscode2session?appid=a&js_code=c"},
		{"https://wx-proxy.internal/weixin", "https://API.weixin.qq.com:443/wxa/msg_sec_check?access_token=t",
			"https://wx-proxy.internal/weixin/wxa/msg_sec_check?access_token=t"},
		{"", "https://api.weixin.qq.com/cgi-bin/token", "https://api.weixin.qq.com/cgi-bin/token"},
	} {
		base, err := parseBase(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		req := httptest.NewRequest("GET", tc.in, nil)
		orig := req.URL.String()
		if _, err := (&rewriter{base: base, next: rec}).RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if got := rec.got.URL.String(); got != tc.want {
			t.Errorf("base %q: %s → %s, want %s", tc.base, tc.in, got, tc.want)
		}
		if req.URL.String() != orig {
			t.Errorf("the caller's request was modified: %s", req.URL)
		}
	}
}

func TestRedact(t *testing.T) {
	c := &client{secret: "topsecret"}
	in := `Get "https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=topsecret&js_code=0b3X&grant_type=authorization_code": EOF; ` +
		`http get error : uri=https://api.weixin.qq.com/wxa/x?access_token=ACC.ESS-1 , statusCode=502; raw topsecret`
	got := c.redact(in)
	for _, leak := range []string{"topsecret", "0b3X", "ACC.ESS-1"} {
		if strings.Contains(got, leak) {
			t.Fatalf("redact left %q in %s", leak, got)
		}
	}
	if !strings.Contains(got, "appid=wx1") || !strings.Contains(got, "grant_type=authorization_code") {
		t.Fatalf("redact removed too much: %s", got)
	}
}

func TestAsPNG(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, src, nil); err != nil {
		t.Fatal(err)
	}
	out, err := asPNG(jpg.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil || img.Bounds() != src.Bounds() {
		t.Fatalf("JPEG → PNG: %v, bounds %v", err, img)
	}
	if _, err := asPNG([]byte("<html>captive portal</html>")); err == nil {
		t.Fatal("asPNG accepted HTML")
	}
	huge := image.NewGray(image.Rect(0, 0, maxImageSide+1, 1))
	huge.SetGray(0, 0, color.Gray{Y: 1})
	var hb bytes.Buffer
	_ = png.Encode(&hb, huge)
	if _, err := asPNG(hb.Bytes()); err == nil {
		t.Fatal("asPNG accepted an image too large for a code")
	}
}

func TestErrcodeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int64
		ok   bool
	}{
		{util.NewCommonError("Send", 43101, "user refuse"), 43101, true},
		{fmt.Errorf("wrapped: %w", util.NewCommonError("x", 40001, "")), 40001, true},
		{errors.New("Code2Session error : errcode=40029 , errmsg=invalid code"), 40029, true},
		{errors.New("fetchCode error : errcode=-1 , errmsg=system error"), -1, true},
		{errors.New("dial tcp: connection refused"), 0, false},
		{nil, 0, false},
	} {
		code, ok := errcodeOf(tc.err)
		if code != tc.code || ok != tc.ok {
			t.Errorf("errcodeOf(%v) = %d, %v; want %d, %v", tc.err, code, ok, tc.code, tc.ok)
		}
	}
}

func TestURLQueryEscapeRoundTrip(t *testing.T) {
	// Code2Session relies on silenceper inserting the escaped code verbatim.
	code := "a b&c=d+e/é"
	u, err := url.Parse("https://x/?js_code=" + url.QueryEscape(code))
	if err != nil || u.Query().Get("js_code") != code {
		t.Fatalf("round trip: %v %q", err, u.Query().Get("js_code"))
	}
}

// TestTokenFetchDoesNotStallOthers: while one access token fetch hangs with
// no deadline (as silenceper's context-free calls would make it), other
// callers still give up at their own deadline. With silenceper's
// DefaultAccessToken they waited for the transport's 30 s backstop.
func TestTokenFetchDoesNotStallOthers(t *testing.T) {
	hang(t)
	c := newClient(t, Config{Timeout: 50 * time.Millisecond}).(*client)
	started := make(chan struct{})
	go func() {
		close(started)
		_, _ = c.tokens.GetAccessToken() // hangs until release
	}()
	<-started
	time.Sleep(20 * time.Millisecond) // let it take the fetch slot
	start := time.Now()
	_, err := c.CheckText(t.Context(), "o", "text")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("CheckText waited %v behind a hung token fetch", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CheckText: %v, want its own deadline", err)
	}
}
