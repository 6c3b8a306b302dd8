// Package wxmock is a fake of the WeChat server API (api.weixin.qq.com) for
// tests and for local development of the mini-program. It answers every call
// onebook makes, on the paths github.com/silenceper/wechat/v2 (v2.1.10) calls,
// with the same JSON shapes and errcodes as WeChat:
//
//	GET  /cgi-bin/token                      client_credential → access_token (7200 s)
//	GET  /sns/jscode2session                 wx.login code → openid, unionid, session_key
//	POST /wxa/business/getuserphonenumber    getPhoneNumber code → phone_info
//	POST /cgi-bin/message/subscribe/send     subscribe message (recorded, see Sent)
//	POST /wxa/getwxacodeunlimit              mini-program code image for a scene
//	POST /wxa/msg_sec_check                  content security check (v2; v1 answered too)
//
// Answers are deterministic so that tests can predict them: the openid of a
// code is OpenID(appID, code); a code starting with "bad" is rejected with
// errcode 40029; a phone code "phone:13812345678" yields that number. Like
// WeChat, errors are HTTP 200 with an errcode in the JSON body.
package wxmock

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// TokenLifetime is the expires_in of every access token, as on WeChat.
// (silenceper caches a token for expires_in − 1500 s, so anything shorter
// than 1500 s would make it fetch a new token on every call.)
const TokenLifetime = 7200 * time.Second

// DefaultBannedWord makes msg_sec_check answer "risky" unless
// SetBannedWords says otherwise.
const DefaultBannedWord = "违禁"

// maxBody bounds request bodies; WeChat's largest here (msg_sec_check) is
// 2500 characters of text.
const maxBody = 1 << 20

// SubscribeMessage is one subscribe message the fake accepted.
type SubscribeMessage struct {
	ToUser           string
	TemplateID       string
	Page             string
	Data             map[string]string // keyword → value
	MiniprogramState string            // developer, trial, formal ("" = formal)
	Lang             string
}

// Server is the fake. Its zero value is not usable; call New.
type Server struct {
	appID, secret string
	log           *slog.Logger
	now           func() time.Time

	mu           sync.Mutex
	tokens       map[string]time.Time // access token → expiry
	sent         []SubscribeMessage
	banned       []string
	unsubscribed map[string]bool // openids that declined every template
}

// New returns a fake of the mini-program appID with secret. It logs nothing
// until SetLogger is called.
func New(appID, secret string) *Server {
	return &Server{
		appID:        appID,
		secret:       secret,
		log:          slog.New(slog.DiscardHandler),
		now:          time.Now,
		tokens:       map[string]time.Time{},
		banned:       []string{DefaultBannedWord},
		unsubscribed: map[string]bool{},
	}
}

// SetLogger makes the server log each call at debug level and each rejected
// call at info level.
func (s *Server) SetLogger(l *slog.Logger) { s.log = l }

// SetBannedWords replaces the words that make msg_sec_check answer "risky".
func (s *Server) SetBannedWords(words ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.banned = append([]string(nil), words...)
}

// Unsubscribe makes subscribe/send to openID fail with errcode 43101, as
// WeChat does when the user has not accepted (or used up) the subscription.
func (s *Server) Unsubscribe(openID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsubscribed[openID] = true
}

// RevokeTokens invalidates every access token issued so far (errcode 40001
// on their next use), as when another process fetched a new token or the
// secret was reset. Tests use it to check that clients recover.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Sent returns the subscribe messages accepted so far, oldest first.
func (s *Server) Sent() []SubscribeMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SubscribeMessage, len(s.sent))
	copy(out, s.sent)
	return out
}

// OpenID is the openid the fake gives the login code of appID: "o" and 27
// characters of base64url(SHA-256(appID || code)), 28 characters like a real
// openid. The same code is always the same user.
func OpenID(appID, code string) string {
	return "o" + digest64(appID + code)[:27]
}

// UnionID is the unionid the fake gives the login code of appID.
func UnionID(appID, code string) string {
	return "u" + digest64("unionid\x00" + appID + code)[:27]
}

// PhoneNumber is the number the fake gives a getPhoneNumber code:
// "phone:NUMBER" gives NUMBER, any other code an 11-digit mobile number
// starting with 1 derived from appID and code.
func PhoneNumber(appID, code string) string {
	if n, ok := strings.CutPrefix(code, "phone:"); ok {
		return n
	}
	sum := sha256.Sum256([]byte("phone\x00" + appID + code))
	return fmt.Sprintf("13%09d", binary.BigEndian.Uint64(sum[:8])%1_000_000_000)
}

func digest64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Handler serves the fake WeChat API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/cgi-bin/token", s.method(http.MethodGet, s.token))
	mux.HandleFunc("/sns/jscode2session", s.method(http.MethodGet, s.jscode2session))
	mux.HandleFunc("/wxa/business/getuserphonenumber", s.method(http.MethodPost, s.authed(s.phoneNumber)))
	mux.HandleFunc("/cgi-bin/message/subscribe/send", s.method(http.MethodPost, s.authed(s.subscribeSend)))
	mux.HandleFunc("/wxa/getwxacodeunlimit", s.method(http.MethodPost, s.authed(s.wxacodeUnlimit)))
	mux.HandleFunc("/wxa/msg_sec_check", s.method(http.MethodPost, s.authed(s.msgSecCheck)))
	return mux
}

// ListenAndServe serves on addr until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("wxmock: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("wxmock: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("wxmock: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("wxmock: %w", err)
	}
	return nil
}

// WeChat errcodes the fake answers with.
const (
	errBusy            = -1
	errInvalidToken    = 40001
	errGrantType       = 40002
	errInvalidOpenID   = 40003
	errInvalidAppID    = 40013
	errInvalidCode     = 40029
	errInvalidTemplate = 40037
	errInvalidArgs     = 40097
	errInvalidSecret   = 40125
	errSceneLength     = 40169
	errMissingToken    = 41001
	errMissingAppID    = 41002
	errMissingSecret   = 41004
	errMissingCode     = 41008
	errInvalidPage     = 41030
	errTokenExpired    = 42001
	errNeedGET         = 43001
	errNeedPOST        = 43002
	errNotSubscribed   = 43101
	errBodyTooLarge    = 44002 // "empty post data" on WeChat; here: unreadable body
	errDataFormat      = 47001
	errTemplateData    = 47003
)

// reply writes a JSON answer; WeChat answers 200 even for errors.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Warn("wxmock: write answer", "path", r.URL.Path, "err", err)
	}
}

type wxError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.log.Info("wxmock: rejected", "path", r.URL.Path, "errcode", code, "errmsg", msg)
	s.reply(w, r, wxError{code, msg})
}

func (s *Server) method(m string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.log.Debug("wxmock: call", "method", r.Method, "path", r.URL.Path)
		if r.Method != m {
			if m == http.MethodPost {
				s.fail(w, r, errNeedPOST, "require POST method")
			} else {
				s.fail(w, r, errNeedGET, "require GET method")
			}
			return
		}
		h(w, r)
	}
}

// authed checks the access_token query parameter first, as WeChat does.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("access_token")
		if tok == "" {
			s.fail(w, r, errMissingToken, "access_token missing")
			return
		}
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case !ok:
			s.fail(w, r, errInvalidToken, "invalid credential, access_token is invalid or not latest")
		case !s.now().Before(exp):
			s.fail(w, r, errTokenExpired, "access_token expired")
		default:
			h(w, r)
		}
	}
}

// checkApp checks appid and secret query parameters.
func (s *Server) checkApp(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	switch {
	case q.Get("appid") == "":
		s.fail(w, r, errMissingAppID, "appid missing")
	case q.Get("appid") != s.appID:
		s.fail(w, r, errInvalidAppID, "invalid appid")
	case q.Get("secret") == "":
		s.fail(w, r, errMissingSecret, "appsecret missing")
	case q.Get("secret") != s.secret:
		s.fail(w, r, errInvalidSecret, "invalid appsecret")
	default:
		return true
	}
	return false
}

// decode reads a JSON body into v.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.fail(w, r, errBodyTooLarge, "cannot read post data: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		s.fail(w, r, errDataFormat, "data format error: "+err.Error())
		return false
	}
	return true
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("grant_type") != "client_credential" {
		s.fail(w, r, errGrantType, "invalid grant_type")
		return
	}
	if !s.checkApp(w, r) {
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	tok := "mock_" + hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = s.now().Add(TokenLifetime)
	s.mu.Unlock()
	s.reply(w, r, map[string]any{"access_token": tok, "expires_in": int(TokenLifetime / time.Second)})
}

func (s *Server) jscode2session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !s.checkApp(w, r) {
		return
	}
	if q.Get("grant_type") != "authorization_code" {
		s.fail(w, r, errGrantType, "invalid grant_type")
		return
	}
	code := q.Get("js_code")
	switch {
	case code == "":
		s.fail(w, r, errMissingCode, "missing code")
		return
	case strings.HasPrefix(code, "bad"):
		s.fail(w, r, errInvalidCode, "invalid code")
		return
	}
	s.reply(w, r, map[string]any{
		"openid":      OpenID(s.appID, code),
		"unionid":     UnionID(s.appID, code),
		"session_key": base64.StdEncoding.EncodeToString([]byte(digest64("session\x00" + code)[:16])),
	})
}

func (s *Server) phoneNumber(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	switch {
	case in.Code == "":
		s.fail(w, r, errMissingCode, "missing code")
		return
	case strings.HasPrefix(in.Code, "bad"):
		s.fail(w, r, errInvalidCode, "invalid code")
		return
	}
	n := PhoneNumber(s.appID, in.Code)
	type watermark struct {
		Timestamp int64  `json:"timestamp"`
		AppID     string `json:"appid"`
	}
	s.reply(w, r, map[string]any{
		"errcode": 0,
		"errmsg":  "ok",
		"phone_info": map[string]any{
			"phoneNumber":     n,
			"purePhoneNumber": n,
			"countryCode":     "86",
			"watermark":       watermark{s.now().Unix(), s.appID},
		},
	})
}

// templateLimits are WeChat's limits on subscribe-message values by keyword
// type (the keyword name without its number, e.g. thing1 → thing), in
// characters. Exceeding one gives errcode 47003, a common surprise in
// production worth catching in development.
var templateLimits = map[string]int{
	"thing": 20, "name": 10, "phrase": 5, "character_string": 32, "number": 32,
	"letter": 32, "symbol": 5, "car_number": 8, "phone_number": 17, "amount": 32,
}

func (s *Server) subscribeSend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ToUser           string `json:"touser"`
		TemplateID       string `json:"template_id"`
		Page             string `json:"page"`
		MiniprogramState string `json:"miniprogram_state"`
		Lang             string `json:"lang"`
		Data             map[string]struct {
			Value any `json:"value"`
		} `json:"data"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	switch {
	case in.ToUser == "":
		s.fail(w, r, errInvalidOpenID, "invalid openid")
		return
	case in.TemplateID == "" || strings.HasPrefix(in.TemplateID, "bad"):
		s.fail(w, r, errInvalidTemplate, "invalid template_id")
		return
	case strings.HasPrefix(in.Page, "/"):
		s.fail(w, r, errInvalidPage, "invalid page")
		return
	}
	switch in.MiniprogramState {
	case "", "developer", "trial", "formal":
	default:
		s.fail(w, r, errInvalidArgs, "invalid miniprogram_state")
		return
	}
	data := make(map[string]string, len(in.Data))
	for k, v := range in.Data {
		val := fmt.Sprint(v.Value)
		kind := strings.TrimRight(k, "0123456789")
		if limit, ok := templateLimits[kind]; ok && utf8.RuneCountInString(val) > limit {
			s.fail(w, r, errTemplateData, fmt.Sprintf("argument invalid! data.%s.value invalid", k))
			return
		}
		data[k] = val
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unsubscribed[in.ToUser] {
		s.log.Info("wxmock: rejected", "path", r.URL.Path, "errcode", errNotSubscribed)
		s.reply(w, r, wxError{errNotSubscribed, "user refuse to accept the msg"})
		return
	}
	s.sent = append(s.sent, SubscribeMessage{
		ToUser: in.ToUser, TemplateID: in.TemplateID, Page: in.Page, Data: data,
		MiniprogramState: in.MiniprogramState, Lang: in.Lang,
	})
	s.reply(w, r, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": len(s.sent)})
}

// ValidScene reports whether scene is one WeChat accepts: 1 to 32 visible
// characters out of digits, letters and !#$&'()*+,/:;=?@-._~.
func ValidScene(scene string) bool {
	if scene == "" || len(scene) > 32 {
		return false
	}
	for _, c := range []byte(scene) {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case strings.IndexByte("!#$&'()*+,/:;=?@-._~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (s *Server) wxacodeUnlimit(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Scene string `json:"scene"`
		Page  string `json:"page"`
		Width int    `json:"width"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if !ValidScene(in.Scene) {
		s.fail(w, r, errSceneLength, "invalid length for scene, or the data is not json string")
		return
	}
	if strings.HasPrefix(in.Page, "/") || strings.Contains(in.Page, "?") {
		s.fail(w, r, errInvalidPage, "invalid page rid")
		return
	}
	img, err := CodeImage(in.Scene, in.Page)
	if err != nil {
		s.fail(w, r, errBusy, "system error: "+err.Error())
		return
	}
	// silenceper v2.1.10 accepts an image only when Content-Type is exactly
	// "image/jpeg" (the label WeChat puts on these images), so the PNG goes
	// out under that label.
	w.Header().Set("Content-Type", "image/jpeg")
	if _, err := w.Write(img); err != nil {
		s.log.Warn("wxmock: write image", "err", err)
	}
}

// CodeImage is the image the fake returns for a mini-program code: a valid
// PNG of an 8×8 grid of black and white cells taken from
// SHA-256(scene || page), framed by a quiet zone. It is not a scannable
// code; it only lets tests and the local mini-program show a distinct
// picture per gate.
func CodeImage(scene, page string) ([]byte, error) {
	const cell, grid, border = 8, 8, 2
	size := (grid + 2*border) * cell
	sum := sha256.Sum256([]byte(scene + "\x00" + page))
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y := range grid {
		for x := range grid {
			bit := y*grid + x
			if sum[bit/8]>>(bit%8)&1 == 0 {
				continue
			}
			for dy := range cell {
				for dx := range cell {
					img.SetGray((border+x)*cell+dx, (border+y)*cell+dy, color.Gray{})
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Labels of msg_sec_check results used by the fake.
const (
	labelNormal  = 100
	labelIllegal = 20006
)

func (s *Server) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Version int    `json:"version"`
		OpenID  string `json:"openid"`
		Scene   int    `json:"scene"`
		Content string `json:"content"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	banned := s.banned
	s.mu.Unlock()
	var hit string
	for _, word := range banned {
		if word != "" && strings.Contains(in.Content, word) {
			hit = word
			break
		}
	}
	if in.Version != 2 {
		// v1 (deprecated by WeChat in 2021): an errcode, no result.
		if hit != "" {
			s.fail(w, r, 87014, "risky content")
			return
		}
		s.reply(w, r, wxError{0, "ok"})
		return
	}
	switch {
	case in.OpenID == "":
		s.fail(w, r, errInvalidOpenID, "invalid openid")
		return
	case in.Scene < 1 || in.Scene > 4:
		s.fail(w, r, errInvalidArgs, "invalid args: scene")
		return
	case utf8.RuneCountInString(in.Content) > 2500:
		s.fail(w, r, errInvalidArgs, "invalid args: content longer than 2500 characters")
		return
	}
	type detail struct {
		Strategy string `json:"strategy"`
		ErrCode  int    `json:"errcode"`
		Suggest  string `json:"suggest"`
		Label    int    `json:"label"`
		Prob     int    `json:"prob,omitempty"`
		Keyword  string `json:"keyword,omitempty"`
	}
	suggest, label, d := "pass", labelNormal, detail{Strategy: "content_model", Suggest: "pass", Label: labelNormal}
	if hit != "" {
		suggest, label = "risky", labelIllegal
		d = detail{Strategy: "keyword", Suggest: "risky", Label: labelIllegal, Prob: 90, Keyword: hit}
	}
	s.reply(w, r, map[string]any{
		"errcode":  0,
		"errmsg":   "ok",
		"trace_id": fmt.Sprintf("mock-%x", sha256.Sum256([]byte(in.OpenID+"\x00"+in.Content)))[:32],
		"result":   map[string]any{"suggest": suggest, "label": label},
		"detail":   []detail{d},
	})
}
