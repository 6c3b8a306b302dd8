package wxmock

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "s3cret"
)

// call runs one request against h and decodes the JSON answer.
func call(t *testing.T, h http.Handler, method, target, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, rd))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: status %d, want 200 (WeChat answers errors with 200)", method, target, rec.Code)
	}
	var out map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v: %s", method, target, err, rec.Body)
		}
	}
	return rec, out
}

func errcode(m map[string]any) int {
	f, _ := m["errcode"].(float64)
	return int(f)
}

// token fetches a fresh access token.
func token(t *testing.T, h http.Handler) string {
	t.Helper()
	_, m := call(t, h, "GET", "/cgi-bin/token?grant_type=client_credential&appid="+appID+"&secret="+secret, "")
	tok, _ := m["access_token"].(string)
	if tok == "" {
		t.Fatalf("no access token: %v", m)
	}
	return tok
}

func TestToken(t *testing.T) {
	h := New(appID, secret).Handler()
	for _, tc := range []struct {
		name, query string
		errcode     int
	}{
		{"ok", "grant_type=client_credential&appid=" + appID + "&secret=" + secret, 0},
		{"grant type", "grant_type=password&appid=" + appID + "&secret=" + secret, 40002},
		{"no appid", "grant_type=client_credential&secret=" + secret, 41002},
		{"wrong appid", "grant_type=client_credential&appid=wxother&secret=" + secret, 40013},
		{"no secret", "grant_type=client_credential&appid=" + appID, 41004},
		{"wrong secret", "grant_type=client_credential&appid=" + appID + "&secret=nope", 40125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := call(t, h, "GET", "/cgi-bin/token?"+tc.query, "")
			if got := errcode(m); got != tc.errcode {
				t.Fatalf("errcode %d, want %d: %v", got, tc.errcode, m)
			}
			if tc.errcode == 0 {
				if m["access_token"] == "" || m["expires_in"] != float64(7200) {
					t.Fatalf("answer %v, want a token that expires in 7200 s", m)
				}
			}
		})
	}
}

func TestJSCode2Session(t *testing.T) {
	h := New(appID, secret).Handler()
	q := func(code string) string {
		return "/sns/jscode2session?appid=" + appID + "&secret=" + secret + "&js_code=" + url.QueryEscape(code) + "&grant_type=authorization_code"
	}
	for _, tc := range []struct {
		name, target string
		errcode      int
	}{
		{"ok", q("081abcDEF"), 0},
		{"bad code", q("bad-081abc"), 40029},
		{"no code", q(""), 41008},
		{"wrong secret", "/sns/jscode2session?appid=" + appID + "&secret=x&js_code=c&grant_type=authorization_code", 40125},
		{"grant type", "/sns/jscode2session?appid=" + appID + "&secret=" + secret + "&js_code=c&grant_type=x", 40002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := call(t, h, "GET", tc.target, "")
			if got := errcode(m); got != tc.errcode {
				t.Fatalf("errcode %d, want %d: %v", got, tc.errcode, m)
			}
		})
	}

	_, m := call(t, h, "GET", q("081abcDEF"), "")
	if m["openid"] != OpenID(appID, "081abcDEF") || m["unionid"] != UnionID(appID, "081abcDEF") || m["session_key"] == "" {
		t.Fatalf("answer %v, want the predicted openid and unionid", m)
	}
	if id := OpenID(appID, "081abcDEF"); len(id) != 28 || id[0] != 'o' {
		t.Fatalf("openid %q: want 28 characters starting with o", id)
	}
	// Known answer: the derivation is a contract tests elsewhere rely on.
	if got, want := OpenID("wxapp", "code"), "o"+digest64("wxappcode")[:27]; got != want {
		t.Fatalf("OpenID = %q, want %q", got, want)
	}
	if OpenID(appID, "a") == OpenID(appID, "b") || OpenID(appID, "a") == OpenID("wxother", "a") {
		t.Fatal("openids collide across codes or apps")
	}
}

func TestAccessTokenChecked(t *testing.T) {
	s := New(appID, secret)
	now := time.Now()
	s.now = func() time.Time { return now }
	h := s.Handler()
	tok := token(t, h)
	body := `{"code":"x"}`
	for _, tc := range []struct {
		name, target string
		errcode      int
	}{
		{"missing", "/wxa/business/getuserphonenumber", 41001},
		{"unknown", "/wxa/business/getuserphonenumber?access_token=forged", 40001},
		{"valid", "/wxa/business/getuserphonenumber?access_token=" + tok, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := call(t, h, "POST", tc.target, body)
			if got := errcode(m); got != tc.errcode {
				t.Fatalf("errcode %d, want %d: %v", got, tc.errcode, m)
			}
		})
	}
	now = now.Add(TokenLifetime)
	if _, m := call(t, h, "POST", "/wxa/business/getuserphonenumber?access_token="+tok, body); errcode(m) != 42001 {
		t.Fatalf("expired token: %v, want errcode 42001", m)
	}
	tok = token(t, h)
	s.RevokeTokens()
	if _, m := call(t, h, "POST", "/wxa/business/getuserphonenumber?access_token="+tok, body); errcode(m) != 40001 {
		t.Fatalf("revoked token: %v, want errcode 40001", m)
	}
}

func TestWrongMethod(t *testing.T) {
	h := New(appID, secret).Handler()
	if _, m := call(t, h, "GET", "/wxa/msg_sec_check", ""); errcode(m) != 43002 {
		t.Fatalf("GET on a POST call: %v, want errcode 43002", m)
	}
	if _, m := call(t, h, "POST", "/cgi-bin/token", "{}"); errcode(m) != 43001 {
		t.Fatalf("POST on a GET call: %v, want errcode 43001", m)
	}
}

func TestPhoneNumber(t *testing.T) {
	h := New(appID, secret).Handler()
	target := "/wxa/business/getuserphonenumber?access_token=" + token(t, h)
	for _, tc := range []struct {
		name, body, phone string
		errcode           int
	}{
		{"chosen", `{"code":"phone:13812345678"}`, "13812345678", 0},
		{"derived", `{"code":"e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"}`,
			PhoneNumber(appID, "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"), 0},
		{"bad", `{"code":"bad"}`, "", 40029},
		{"missing", `{}`, "", 41008},
		{"not json", `code=1`, "", 47001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := call(t, h, "POST", target, tc.body)
			if got := errcode(m); got != tc.errcode {
				t.Fatalf("errcode %d, want %d: %v", got, tc.errcode, m)
			}
			if tc.errcode != 0 {
				return
			}
			info, _ := m["phone_info"].(map[string]any)
			if info["purePhoneNumber"] != tc.phone || info["countryCode"] != "86" {
				t.Fatalf("phone_info %v, want purePhoneNumber %s", info, tc.phone)
			}
		})
	}
	if n := PhoneNumber(appID, "x"); len(n) != 11 || n[0] != '1' {
		t.Fatalf("derived number %q is not an 11-digit mobile number", n)
	}
}

func TestSubscribeSend(t *testing.T) {
	s := New(appID, secret)
	h := s.Handler()
	target := "/cgi-bin/message/subscribe/send?access_token=" + token(t, h)
	s.Unsubscribe("o-declined")
	for _, tc := range []struct {
		name, body string
		errcode    int
	}{
		{"ok", `{"touser":"o1","template_id":"T1","page":"pages/pass/index","data":{"thing1":{"value":"访客已通过"},"time2":{"value":"2020-02-03 10:00"}}}`, 0},
		{"no user", `{"template_id":"T1","data":{}}`, 40003},
		{"bad template", `{"touser":"o1","template_id":"bad","data":{}}`, 40037},
		{"page with slash", `{"touser":"o1","template_id":"T1","page":"/pages/x","data":{}}`, 41030},
		{"thing too long", `{"touser":"o1","template_id":"T1","data":{"thing1":{"value":"一二三四五六七八九十一二三四五六七八九十一"}}}`, 47003},
		{"state", `{"touser":"o1","template_id":"T1","miniprogram_state":"beta","data":{}}`, 40097},
		{"declined", `{"touser":"o-declined","template_id":"T1","data":{}}`, 43101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := call(t, h, "POST", target, tc.body)
			if got := errcode(m); got != tc.errcode {
				t.Fatalf("errcode %d, want %d: %v", got, tc.errcode, m)
			}
		})
	}
	sent := s.Sent()
	if len(sent) != 1 {
		t.Fatalf("recorded %d messages, want only the accepted one: %+v", len(sent), sent)
	}
	want := SubscribeMessage{ToUser: "o1", TemplateID: "T1", Page: "pages/pass/index",
		Data: map[string]string{"thing1": "访客已通过", "time2": "2020-02-03 10:00"}}
	got := sent[0]
	if got.ToUser != want.ToUser || got.TemplateID != want.TemplateID || got.Page != want.Page ||
		len(got.Data) != 2 || got.Data["thing1"] != want.Data["thing1"] || got.Data["time2"] != want.Data["time2"] {
		t.Fatalf("recorded %+v, want %+v", got, want)
	}
}

func TestWXACodeUnlimit(t *testing.T) {
	h := New(appID, secret).Handler()
	target := "/wxa/getwxacodeunlimit?access_token=" + token(t, h)
	images := map[string][]byte{}
	for _, tc := range []struct {
		name, body string
		errcode    int // -100: an image
	}{
		{"gate 1", `{"scene":"g=110101001001-1","page":"pages/checkin/index"}`, -100},
		{"gate 2", `{"scene":"g=110101001001-2","page":"pages/checkin/index"}`, -100},
		{"home page", `{"scene":"g=1"}`, -100},
		{"scene too long", `{"scene":"0123456789012345678901234567890123"}`, 40169},
		{"no scene", `{"page":"pages/checkin/index"}`, 40169},
		{"percent", `{"scene":"a%20b"}`, 40169},
		{"page slash", `{"scene":"g=1","page":"/pages/checkin/index"}`, 41030},
		{"page query", `{"scene":"g=1","page":"pages/checkin/index?g=1"}`, 41030},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, m := call(t, h, "POST", target, tc.body)
			if tc.errcode != -100 {
				if got := errcode(m); got != tc.errcode {
					t.Fatalf("errcode %d, want %d: %v", got, tc.errcode, m)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "image/jpeg" {
				t.Fatalf("Content-Type %q, want image/jpeg (the only one silenceper accepts)", ct)
			}
			if _, err := png.Decode(bytes.NewReader(rec.Body.Bytes())); err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			images[tc.name] = rec.Body.Bytes()
		})
	}
	if bytes.Equal(images["gate 1"], images["gate 2"]) {
		t.Fatal("two scenes gave the same image")
	}
	again, _ := CodeImage("g=110101001001-1", "pages/checkin/index")
	if !bytes.Equal(again, images["gate 1"]) {
		t.Fatal("the image of a scene is not deterministic")
	}
}

func TestMsgSecCheck(t *testing.T) {
	s := New(appID, secret)
	h := s.Handler()
	target := "/wxa/msg_sec_check?access_token=" + token(t, h)
	for _, tc := range []struct {
		name, body, suggest string
		errcode             int
	}{
		{"pass", `{"version":2,"openid":"o1","scene":1,"content":"看望父母"}`, "pass", 0},
		{"risky", `{"version":2,"openid":"o1","scene":1,"content":"一些违禁内容"}`, "risky", 0},
		{"no openid", `{"version":2,"scene":1,"content":"x"}`, "", 40003},
		{"bad scene", `{"version":2,"openid":"o1","scene":9,"content":"x"}`, "", 40097},
		{"too long", `{"version":2,"openid":"o1","scene":1,"content":"` + strings.Repeat("字", 2501) + `"}`, "", 40097},
		{"v1 pass", `{"content":"看望父母"}`, "", 0},
		{"v1 risky", `{"content":"违禁"}`, "", 87014},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := call(t, h, "POST", target, tc.body)
			if got := errcode(m); got != tc.errcode {
				t.Fatalf("errcode %d, want %d: %v", got, tc.errcode, m)
			}
			if tc.suggest != "" {
				res, _ := m["result"].(map[string]any)
				if res["suggest"] != tc.suggest {
					t.Fatalf("result %v, want suggest %s", res, tc.suggest)
				}
			}
		})
	}
	s.SetBannedWords("聚集")
	_, m := call(t, h, "POST", target, `{"version":2,"openid":"o1","scene":1,"content":"周末聚集"}`)
	if res, _ := m["result"].(map[string]any); res["suggest"] != "risky" {
		t.Fatalf("configured banned word not caught: %v", m)
	}
	_, m = call(t, h, "POST", target, `{"version":2,"openid":"o1","scene":1,"content":"违禁"}`)
	if res, _ := m["result"].(map[string]any); res["suggest"] != "pass" {
		t.Fatalf("replaced banned word still caught: %v", m)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- New(appID, secret).Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/cgi-bin/token?grant_type=client_credential&appid=" + appID + "&secret=" + secret)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
}
