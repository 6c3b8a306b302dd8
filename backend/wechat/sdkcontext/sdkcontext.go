// Package sdkcontext makes the context that the silenceper/wechat SDK's
// mini-program clients share: the app's credentials and the source of its
// access tokens. It stands apart from package wechat only because the SDK
// names that package context, as the standard library does, and onebook
// imports nothing under another name.
package sdkcontext

import (
	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/miniprogram/config"
	"github.com/silenceper/wechat/v2/miniprogram/context"
)

// New returns the SDK's context for the app appID with secret, whose
// clients get access tokens from tokens; c caches what the SDK caches.
func New(appID, secret string, c cache.Cache, tokens credential.AccessTokenContextHandle) *context.Context {
	return &context.Context{
		Config:                   &config.Config{AppID: appID, AppSecret: secret, Cache: c},
		AccessTokenContextHandle: tokens,
	}
}
