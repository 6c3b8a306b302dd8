package wechat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // GateCode re-encodes a JPEG from WeChat as PNG
	"image/png"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/onebook/onebook/backend/wechat/sdkcontext"
	"github.com/onebook/onebook/events"
	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/miniprogram/auth"
	"github.com/silenceper/wechat/v2/miniprogram/business"
	"github.com/silenceper/wechat/v2/miniprogram/qrcode"
	"github.com/silenceper/wechat/v2/miniprogram/security"
	"github.com/silenceper/wechat/v2/miniprogram/subscribe"
)

// Limits checked before calling WeChat, so that bad input is an invalid
// error naming the field rather than a round trip and an errcode.
const (
	maxCodeLen    = 256  // wx.login codes are 32 characters, phone codes 64
	maxTextRunes  = 2500 // msg_sec_check's documented limit
	maxSceneLen   = 32
	sceneSpecials = "!#$&'()*+,/:;=?@-._~"
	maxImageSide  = 4096 // WeChat draws codes of at most 1280 px; larger is not a code
)

// client is the Client over silenceper's mini-program packages. It uses the
// packages one by one rather than silenceper's miniprogram umbrella, which
// would link twenty unrelated APIs into the backend.
type client struct {
	appID, secret string
	timeout       time.Duration
	log           *slog.Logger
	tokens        *tokenSource

	auth      *auth.Auth
	business  *business.Business
	subscribe *subscribe.Subscribe
	qrcode    *qrcode.QRCode
	security  *security.Security
}

// New returns the Client of the mini-program cfg.AppID. It installs the
// process-wide transport for cfg.APIBase (see InstallTransport), so every
// Client of a process must agree on APIBase. The access token is fetched on
// first use and kept in memory (see tokenSource), per Client: every process
// fetches its own, and a fetch by one makes WeChat reject the others' after
// a grace period; a rejected token is fetched anew once, so several
// processes work, at the price of an extra round trip now and then.
func New(cfg Config) (Client, error) {
	if cfg.AppID == "" || cfg.AppSecret == "" {
		return nil, errors.New("wechat: AppID and AppSecret are required")
	}
	if err := InstallTransport(cfg.APIBase); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	mem := &lockedCache{m: cache.NewMemory()}
	tokens := newTokenSource(cfg.AppID, cfg.AppSecret, mem)
	mc := sdkcontext.New(cfg.AppID, cfg.AppSecret, mem, tokens)
	return &client{
		appID:     cfg.AppID,
		secret:    cfg.AppSecret,
		timeout:   cfg.Timeout,
		log:       cfg.Logger.With("component", "wechat"),
		tokens:    tokens,
		auth:      auth.NewAuth(mc),
		business:  business.NewBusiness(mc),
		subscribe: subscribe.NewSubscribe(mc),
		qrcode:    qrcode.NewQRCode(mc),
		security:  security.NewSecurity(mc),
	}, nil
}

func (c *client) Code2Session(ctx context.Context, code string) (Session, error) {
	if err := checkCode(code); err != nil {
		return Session{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// silenceper formats the code into the URL as it is; escape it so that
	// no code can add parameters of its own.
	res, err := c.auth.Code2SessionContext(ctx, url.QueryEscape(code))
	if err != nil {
		return Session{}, c.fail(apiCode2Session, err)
	}
	if res.OpenID == "" {
		return Session{}, c.fail(apiCode2Session, errors.New("answer without openid"))
	}
	return Session{OpenID: res.OpenID, UnionID: res.UnionID}, nil
}

func (c *client) PhoneNumber(ctx context.Context, code string) (string, error) {
	if err := checkCode(code); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var info business.PhoneInfo
	err := c.withToken(ctx, func(ctx context.Context) (err error) {
		info, err = c.business.GetPhoneNumberWithContext(ctx, &business.GetPhoneNumberRequest{Code: code})
		return err
	})
	if err != nil {
		return "", c.fail(apiPhone, err)
	}
	if info.PurePhoneNumber == "" {
		return "", c.fail(apiPhone, errors.New("answer without purePhoneNumber"))
	}
	return info.PurePhoneNumber, nil
}

func (c *client) SendSubscribe(ctx context.Context, m SubscribeMessage) error {
	switch {
	case m.ToUser == "":
		return invalid("to_user", "required")
	case m.TemplateID == "":
		return invalid("template_id", "required")
	case strings.HasPrefix(m.Page, "/"):
		return invalid("page", "a mini-program path has no leading slash")
	}
	msg := &subscribe.Message{ToUser: m.ToUser, TemplateID: m.TemplateID, Page: m.Page,
		Data: make(map[string]*subscribe.DataItem, len(m.Data))}
	for k, v := range m.Data {
		msg.Data[k] = &subscribe.DataItem{Value: v}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.withToken(ctx, func(ctx context.Context) error {
		// silenceper's Send takes no context: see detach for what a
		// timeout means here.
		_, err := detach(ctx, func() (struct{}, error) { return struct{}{}, c.subscribe.Send(msg) })
		return err
	})
	if err != nil {
		return c.fail(apiSubscribe, err)
	}
	return nil
}

func (c *client) GateCode(ctx context.Context, scene, page string) ([]byte, error) {
	if !validScene(scene) {
		return nil, invalid("scene", "want 1 to %d characters of 0-9, A-Z, a-z and %s", maxSceneLen, sceneSpecials)
	}
	if strings.HasPrefix(page, "/") || strings.ContainsAny(page, "?#") {
		return nil, invalid("page", "want a mini-program path without leading slash or query")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var img []byte
	err := c.withToken(ctx, func(ctx context.Context) (err error) {
		// silenceper's GetWXACodeUnlimit takes no context either.
		img, err = detach(ctx, func() ([]byte, error) {
			return c.qrcode.GetWXACodeUnlimit(qrcode.QRCoder{Scene: scene, Page: page})
		})
		return err
	})
	if err != nil {
		return nil, c.fail(apiGateCode, err)
	}
	out, err := asPNG(img)
	if err != nil {
		return nil, c.fail(apiGateCode, err)
	}
	return out, nil
}

func (c *client) CheckText(ctx context.Context, openID, text string) (bool, error) {
	if openID == "" {
		return false, invalid("openid", "required")
	}
	if n := utf8.RuneCountInString(text); n > maxTextRunes {
		return false, &events.Error{Code: events.CodeTooLarge, Field: "text",
			Message: fmt.Sprintf("%d characters; the content check takes at most %d", n, maxTextRunes)}
	}
	if strings.TrimSpace(text) == "" {
		return true, nil // nothing to judge; WeChat would reject the empty call
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var res security.MsgCheckResponse
	err := c.withToken(ctx, func(ctx context.Context) (err error) {
		// Scene 1 (资料, profile data) fits what onebook checks: fields of a
		// registration, a visitor request, a household member.
		res, err = c.security.MsgCheckContext(ctx, &security.MsgCheckRequest{
			OpenID: openID, Scene: security.MsgSceneMaterial, Content: text})
		return err
	})
	if code, ok := errcodeOf(err); ok && code == 87014 {
		return false, nil // v1's way of saying risky; kept in case WeChat falls back to it
	}
	if err != nil {
		return false, c.fail(apiMsgSecCheck, err)
	}
	switch res.Result.Suggest {
	case security.CheckSuggestPass:
		return true, nil
	case security.CheckSuggestRisky, security.CheckSuggestReview:
		// onebook has no human review queue, so "review" is refused as well:
		// the user can rephrase, whereas text once in the ledger stays there.
		return false, nil
	default:
		return false, c.fail(apiMsgSecCheck, fmt.Errorf("answer without a known suggest: %q", res.Result.Suggest))
	}
}

// withToken runs call with a valid access token in the cache and, if WeChat
// rejected that token (refreshed by another process, or the secret reset),
// drops it and runs call once more with a fresh one: silenceper never drops
// a cached token before its time. The token is fetched here, with ctx,
// before call runs, so that the silenceper calls that take no context find
// it cached and never fetch one without a deadline.
func (c *client) withToken(ctx context.Context, call func(context.Context) error) error {
	if _, err := c.tokens.GetAccessTokenContext(ctx); err != nil {
		return err
	}
	err := call(ctx)
	if err == nil || !tokenRejected(err) || ctx.Err() != nil {
		return err
	}
	c.log.Info("WeChat rejected the access token; fetching a new one", "err", c.redact(err.Error()))
	c.tokens.drop()
	if _, err := c.tokens.GetAccessTokenContext(ctx); err != nil {
		return err
	}
	return call(ctx)
}

// detach runs f, which cannot be cancelled, and returns its result or
// ctx's error, whichever comes first. On ctx's error f keeps running in the
// background until it ends (bounded by the transport's backstop timeout), so
// an abandoned subscribe message may still be delivered: a timeout means
// "outcome unknown", not "not sent".
func detach[T any](ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func checkCode(code string) error {
	switch {
	case code == "":
		return invalid("code", "required")
	case len(code) > maxCodeLen:
		return invalid("code", "longer than %d bytes", maxCodeLen)
	}
	return nil
}

// validScene reports whether WeChat accepts scene (wxacode.getUnlimited):
// 1 to 32 characters of digits, letters and !#$&'()*+,/:;=?@-._~.
func validScene(scene string) bool {
	if scene == "" || len(scene) > maxSceneLen {
		return false
	}
	for _, ch := range []byte(scene) {
		switch {
		case ch >= '0' && ch <= '9', ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z':
		case strings.IndexByte(sceneSpecials, ch) >= 0:
		default:
			return false
		}
	}
	return true
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// asPNG returns img as a PNG. WeChat labels its codes image/jpeg (silenceper
// accepts no other label) and is reported to send JPEG or PNG bytes
// depending on is_hyaline; callers get one format whatever arrives, and
// bytes that are no image are an error rather than a broken picture.
func asPNG(img []byte) ([]byte, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("answer is not an image: %w", err)
	}
	if cfg.Width > maxImageSide || cfg.Height > maxImageSide {
		return nil, fmt.Errorf("answer is a %dx%d image, too large for a mini-program code", cfg.Width, cfg.Height)
	}
	if format == "png" && bytes.HasPrefix(img, pngMagic) {
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			return nil, fmt.Errorf("answer is a broken PNG: %w", err)
		}
		return img, nil
	}
	decoded, _, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("answer is a broken %s: %w", format, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, decoded); err != nil {
		return nil, fmt.Errorf("re-encode %s as PNG: %w", format, err)
	}
	return buf.Bytes(), nil
}

// lockedCache serialises silenceper's in-memory cache: cache.Memory's Get
// and IsExist read its map without the lock that Set takes, a data race
// once requests run concurrently.
type lockedCache struct {
	mu sync.Mutex
	m  *cache.Memory
}

func (l *lockedCache) Get(key string) any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Get(key)
}

func (l *lockedCache) Set(key string, val any, timeout time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Set(key, val, timeout)
}

func (l *lockedCache) IsExist(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.IsExist(key)
}

func (l *lockedCache) Delete(key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Delete(key)
}
