package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"

	"github.com/onebook/onebook/backend/wechat/wxmock"
)

// runWxmock serves a fake WeChat API until ctx ends, so that the backend
// (WECHAT_API_BASE=http://ADDR) and the mini-program under development never
// need api.weixin.qq.com. It answers with the appid and secret the backend is
// configured with; see package wxmock for the predictable answers.
func runWxmock(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("wxmock", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	addr := fs.String("addr", "127.0.0.1:9100", "listen address (keep it on loopback: the fake accepts any caller)")
	appID := fs.String("appid", "wx-onebook-dev", "AppID the fake accepts (the backend's WECHAT_APPID)")
	secret := fs.String("secret", "dev-secret", "AppSecret the fake accepts (the backend's WECHAT_SECRET)")
	banned := fs.String("banned", wxmock.DefaultBannedWord, "comma-separated words that make the content security check answer risky")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	srv := wxmock.New(*appID, *secret)
	srv.SetLogger(env.log)
	srv.SetBannedWords(strings.Split(*banned, ",")...)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The address printed is the bound one, so --addr 127.0.0.1:0 works too.
	fmt.Fprintf(env.stdout, "http://%s\n", ln.Addr())
	env.log.Info("fake WeChat API serving", "addr", ln.Addr().String(), "appid", *appID)
	return srv.Serve(ctx, ln)
}
