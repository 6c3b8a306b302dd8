package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/credential"
)

// tokenURL is the access token call (auth.getAccessToken), the same URL
// silenceper's credential package uses.
const tokenURL = "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=%s&secret=%s"

// tokenMargin is how long before WeChat's expiry a cached token is
// replaced, so that no call carries a token that expires in flight.
const tokenMargin = 5 * time.Minute

// tokenSource is the access token handle given to silenceper's APIs, in
// place of its credential.DefaultAccessToken. That one holds a plain mutex
// across the HTTP fetch: a fetch with no deadline (silenceper's
// context-free calls make those) stalls every other call of the process for
// the transport's whole backstop timeout, whatever their contexts say. Here
// one fetch runs at a time too, but waiters give up when their context ends.
type tokenSource struct {
	appID, secret string
	cache         cache.Cache
	key           string
	fetching      chan struct{} // holds one token while a fetch runs
}

func newTokenSource(appID, secret string, c cache.Cache) *tokenSource {
	return &tokenSource{appID: appID, secret: secret, cache: c,
		key:      credential.CacheKeyMiniProgramPrefix + "access_token_" + appID,
		fetching: make(chan struct{}, 1)}
}

// GetAccessToken is silenceper's context-free entry point.
func (t *tokenSource) GetAccessToken() (string, error) {
	return t.GetAccessTokenContext(context.Background())
}

// GetAccessTokenContext returns the cached token or fetches a new one.
func (t *tokenSource) GetAccessTokenContext(ctx context.Context) (string, error) {
	if tok, ok := t.cache.Get(t.key).(string); ok && tok != "" {
		return tok, nil
	}
	select {
	case t.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-t.fetching }()
	// Someone else may have fetched it while we waited.
	if tok, ok := t.cache.Get(t.key).(string); ok && tok != "" {
		return tok, nil
	}
	res, err := credential.GetTokenFromServerContext(ctx,
		fmt.Sprintf(tokenURL, url.QueryEscape(t.appID), url.QueryEscape(t.secret)))
	if err != nil {
		return "", err
	}
	if res.AccessToken == "" {
		return "", errors.New("get access_token error : answer without access_token")
	}
	life := time.Duration(res.ExpiresIn) * time.Second
	ttl := life - tokenMargin
	if ttl <= 0 {
		ttl = life / 2
	}
	if err := t.cache.Set(t.key, res.AccessToken, ttl); err != nil {
		return "", fmt.Errorf("cache access token: %w", err)
	}
	return res.AccessToken, nil
}

// drop forgets the cached token after WeChat rejected it.
func (t *tokenSource) drop() { _ = t.cache.Delete(t.key) }
