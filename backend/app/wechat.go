package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/alerts"
	"github.com/onebook/onebook/backend/config"
	"github.com/onebook/onebook/backend/donations"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/backend/wechat"
	"github.com/onebook/onebook/backend/wechat/wxmock"
)

// Development credentials of the in-process fake WeChat.
const (
	devAppID  = "wxdev00000000onebook"
	devSecret = "onebook-dev-secret"
)

// startWeChat returns the WeChat client. In development mode (no AppID
// configured) it first starts the fake WeChat API (backend/wechat/wxmock) on loopback,
// so that the whole mini-program flow works on a machine with no WeChat
// account; config keeps such a backend on loopback. With an AppID the fake
// is never started.
func startWeChat(ctx context.Context, cfg config.Config, log *slog.Logger) (wechatAdapter, error) {
	appID, secret, base := cfg.WeChatAppID, cfg.WeChatSecret, cfg.WeChatAPIBase
	if cfg.Development() {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.WxmockPort))
		if err != nil {
			return wechatAdapter{}, fmt.Errorf("fake WeChat: %w", err)
		}
		appID, secret, base = devAppID, devSecret, "http://"+ln.Addr().String()
		if cfg.TemplateVisit == "" {
			cfg.TemplateVisit, cfg.TemplateRevoked = "dev-visit-decided", "dev-pass-revoked"
		}
		if cfg.TemplateAlert == "" {
			cfg.TemplateAlert = "dev-alert-raised"
		}
		if cfg.TemplateDonation == "" {
			cfg.TemplateDonation = "dev-donation-hop"
		}
		if cfg.TemplateTransfer == "" {
			cfg.TemplateTransfer = "dev-person-transferred"
		}
		go wxmock.New(appID, secret).Serve(ctx, ln)
		log.Info("fake WeChat API in-process (development mode)", "url", base, "appid", appID)
	}
	c, err := wechat.New(wechat.Config{AppID: appID, AppSecret: secret, APIBase: base, Logger: log})
	if err != nil {
		return wechatAdapter{}, err
	}
	return wechatAdapter{c: c, templates: map[string]string{passes.NoticeVisitDecided: cfg.TemplateVisit, passes.NoticePassRevoked: cfg.TemplateRevoked, alerts.NoticeAlert: cfg.TemplateAlert, donations.NoticeHop: cfg.TemplateDonation,
		accounts.NoticeTransfer: cfg.TemplateTransfer}}, nil
}

// wechatAdapter narrows wechat.Client to what the API uses.
type wechatAdapter struct {
	c         wechat.Client
	templates map[string]string // notice kind → template id
}

func (w wechatAdapter) OpenID(ctx context.Context, code string) (string, error) {
	s, err := w.c.Code2Session(ctx, code)
	return s.OpenID, err
}

func (w wechatAdapter) GateCode(ctx context.Context, scene, page string) ([]byte, error) {
	return w.c.GateCode(ctx, scene, page)
}

func (w wechatAdapter) CheckText(ctx context.Context, openID, text string) (bool, error) {
	return w.c.CheckText(ctx, openID, text)
}

func (w wechatAdapter) PhoneNumber(ctx context.Context, code string) (string, error) {
	return w.c.PhoneNumber(ctx, code)
}
