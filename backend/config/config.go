// Package config reads onebook's configuration from flags and environment
// variables. Every setting has an environment variable; a flag of the same
// meaning overrides it. The defaults run everything embedded on one machine.
package config

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/seal"
)

// Config is the whole configuration of a backend process (and, for the
// connection settings, of the ops tool).
type Config struct {
	Addr    string // HTTP listen address (loopback in development mode)
	DataDir string // embedded servers' storage, seal key
	NATSURL string // external NATS; "" starts the embedded server
	// Authentication and TLS at an external NATS (files; "" none).
	NATSCreds, NATSNKey, NATSCA, NATSCert, NATSKey string
	NATSPort                                       int    // embedded NATS port (loopback)
	NATSSync                                       string // embedded NATS: "always" (fsync before ack) or a sync interval
	MongoURI                                       string // external MongoDB; "" starts embedded FerretDB
	MongoPort                                      int    // embedded FerretDB port (loopback)
	MongoDB                                        string // database name

	// Partitions are the provinces that each get a ledger of their own
	// (ONEBOOK_PARTITIONS); none (the default) runs the single ledger of
	// today. With some, the process runs one cell per province plus the
	// national cell, each with the configuration ForCell derives.
	Partitions []events.Region
	// NATSCredsDir holds one credentials file per cell, <name>.creds or
	// <name>.nkey (name: partition.Name); with the embedded NATS server it
	// defaults to DATA/nats-users, where onebook creates nkeys.
	NATSCredsDir string
	// Cell is the cell this configuration is of (set by ForCell): "" for the
	// single ledger, a province code, or events.National.
	Cell events.Region
	// Sourced, in the national cell's configuration (set by ForCell), are
	// the provinces whose OUTBOX its ledger sources (events/outbox).
	Sourced []events.Region
	// SmallCell and ReportInterval configure a province's publisher
	// (backend/reporting).
	SmallCell      uint64
	ReportInterval time.Duration

	SealKeyFile  string // Ed25519 signed-note private key; created on first start if missing
	Origin       string // checkpoint origin line (the log's name)
	Replicas     int    // JetStream stream replicas: 1 single machine, 3 cluster
	DedupWindow  time.Duration
	SealInterval time.Duration // minimum time between checkpoints while busy
	// NationInterval is how often the national cell records each
	// province's newest checkpoint in the national log of logs.
	NationInterval time.Duration

	SnapshotEvery    uint64        // events after which a state is snapshotted again; 0: not by count
	SnapshotInterval time.Duration // time after which a state that moved is snapshotted again; 0: not by time

	LogLevel   slog.Level
	Demo       bool // fill demo data on start
	Projectors bool // run the projectors in this process (an API-only replica sets false)

	WeChatAppID, WeChatSecret string // empty AppID: a fake WeChat runs in-process (development)
	WeChatAPIBase             string // replaces https://api.weixin.qq.com (e.g. a wxmock)
	WxmockPort                int    // port of the in-process fake WeChat
	TemplateVisit             string // subscribe-message template: visit approved/refused
	TemplateRevoked           string // subscribe-message template: pass revoked
	TemplateAlert             string // subscribe-message template: early-warning alert raised
	TemplateDonation          string // subscribe-message template: a donation's hop dispatched or received
	TemplateTransfer          string // subscribe-message template: a household member moved to another household
	AlertWebhook              string // URL that receives every raised alert as a JSON POST
	RiskRegions               []events.Region
	Witnesses                 []string        // verifier keys of the witnesses whose checkpoint cosignatures are accepted
	WitnessPush               []WitnessTarget // C2SP tlog-witness witnesses onebook pushes its checkpoints to
	PassTTL, SessionTTL       time.Duration

	MetricsAddr    string        // separate listener serving only /metrics; "" none
	MetricsToken   string        // bearer token opening /metrics on the public listener; "" keeps it closed (404)
	RequestTimeout time.Duration // server-side deadline of every request
	ExportTimeout  time.Duration // deadline of an export (GET /exports/{view}), which writes a whole bundle

	TrustedProxies                         []string // reverse proxies whose X-Forwarded-For names the client
	LimitSignIn, LimitClient, LimitAccount int      // requests per minute; 0: no limit
}

// Development reports whether c runs in development mode: without WeChat
// credentials, a fake WeChat API runs in-process and answers every sign-in
// code, so the demo's sign-in codes ("demo-gov", ...) work and anyone who
// can reach the API can sign in as anyone. That is why Load lets such a
// backend listen on loopback only.
func (c Config) Development() bool { return c.WeChatAppID == "" }

// Var documents one setting, for --help and the README.
type Var struct {
	Env, Flag, Default, Help string
}

// Vars lists every setting.
func Vars() []Var {
	return []Var{
		{"ONEBOOK_ADDR", "addr", "", "HTTP listen address; default :8080, or 127.0.0.1:8080 in development mode (WECHAT_APPID unset), which listens on loopback only"},
		{"ONEBOOK_METRICS_ADDR", "metrics-addr", "127.0.0.1:9090", "listen address of a separate listener that serves only /metrics; 'off' for none"},
		{"ONEBOOK_METRICS_TOKEN", "metrics-token", "", "bearer token that opens /metrics on the public listener; empty: /metrics there answers 404"},
		{"ONEBOOK_DATA", "data", "./data", "data directory: embedded NATS and FerretDB storage, the seal key"},
		{"NATS_URL", "nats-url", "", "NATS server URL(s), comma-separated; empty starts an embedded JetStream server"},
		{"NATS_CREDS", "nats-creds", "", "external NATS: a .creds file (user JWT and nkey seed)"},
		{"NATS_NKEY", "nats-nkey", "", "external NATS: a file holding the nkey seed of onebook's user"},
		{"NATS_CA", "nats-ca", "", "external NATS: PEM file of the CA that signed the servers' certificates (TLS)"},
		{"NATS_CERT", "nats-cert", "", "external NATS: client certificate (PEM) for mutual TLS, with NATS_KEY"},
		{"NATS_KEY", "nats-key", "", "external NATS: the client certificate's key (PEM)"},
		{"ONEBOOK_NATS_PORT", "nats-port", "4222", "port of the embedded NATS server (127.0.0.1)"},
		{"ONEBOOK_NATS_SYNC", "nats-sync", "always", "embedded NATS: 'always' fsyncs each event before acknowledging it; a duration (e.g. 2m) syncs periodically, faster but a power loss can lose acknowledged events"},
		{"MONGO_URI", "mongo-uri", "", "MongoDB connection URI; empty starts an embedded FerretDB (SQLite)"},
		{"ONEBOOK_MONGO_PORT", "mongo-port", "27017", "port of the embedded FerretDB (127.0.0.1)"},
		{"MONGO_DB", "mongo-db", "onebook", "MongoDB database of the projections"},
		{"ONEBOOK_PARTITIONS", "partitions", "", "comma-separated 2-digit province codes (e.g. 11,31,44,51): a ledger per province, each with its own NATS account, stream, Merkle log, origin ORIGIN/p/NN, seal key DATA/pNN/seal.key, database MONGO_DB_pNN and API under /p/NN/, plus a national ledger under /national/; empty: the single ledger"},
		{"ONEBOOK_SMALL_CELL", "small-cell", "5", "with ONEBOOK_PARTITIONS: counts below this are not shown cell by cell in the figures a province publishes to the nation (events/aggregates)"},
		{"ONEBOOK_REPORT_INTERVAL", "report-interval", "5m", "with ONEBOOK_PARTITIONS: how often a province recomputes its figures for the nation and publishes those that changed"},
		{"ONEBOOK_NATS_CREDS_DIR", "nats-creds-dir", "", "with ONEBOOK_PARTITIONS: a folder with one NATS credentials file per cell, pNN.creds or pNN.nkey and nation.creds or nation.nkey (required with NATS_URL); default with the embedded server DATA/nats-users, created"},
		{"ONEBOOK_SEAL_KEY", "seal-key", "", "checkpoint signing key file (signed-note PRIVATE+KEY format); default DATA/seal.key, created if missing"},
		{"ONEBOOK_ORIGIN", "origin", "onebook.local/ledger", "checkpoint origin: the name of this log"},
		{"ONEBOOK_REPLICAS", "replicas", "1", "JetStream replicas of the ledger streams and buckets (3 in a cluster)"},
		{"ONEBOOK_DEDUP_WINDOW", "dedup-window", "1h", "JetStream duplicate window for event ids"},
		{"ONEBOOK_SEAL_INTERVAL", "seal-interval", "500ms", "minimum time between checkpoints while events keep arriving"},
		{"ONEBOOK_NATION_INTERVAL", "nation-interval", "10s", "with ONEBOOK_PARTITIONS: how often the national cell records each province's newest signed checkpoint in the national log of logs, and the national alerts raised or cleared on the provinces' figures"},
		{"ONEBOOK_SNAPSHOT_EVERY", "snapshot-every", "10000", "snapshot each in-memory decision state (bucket 'snapshots') once it has applied this many events since its last snapshot; 0: not by count"},
		{"ONEBOOK_SNAPSHOT_INTERVAL", "snapshot-interval", "5m", "snapshot each in-memory decision state that moved at least this often; 0: not by time (snapshots are also written on a clean shutdown)"},
		{"ONEBOOK_WITNESSES", "witnesses", "", "comma-separated verifier keys (name+hash+base64) of the witnesses allowed to cosign checkpoints (POST /ledger/cosignatures)"},
		{"ONEBOOK_WITNESS_PUSH", "witness-push", "", "comma-separated C2SP tlog-witness witnesses, each <cosignature/v1 verifier key>=<witness URL>; onebook POSTs every new checkpoint to <URL>/add-checkpoint and stores the cosignatures (their keys need not be repeated in ONEBOOK_WITNESSES)"},
		{"ONEBOOK_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
		{"ONEBOOK_DEMO", "demo", "false", "fill realistic demo data on start"},
		{"ONEBOOK_PROJECTORS", "projectors", "true", "run the projectors in this process; false for API-only replicas when projectors run elsewhere"},
		{"WECHAT_APPID", "wechat-appid", "", "mini-program AppID; empty runs a fake WeChat API in-process on loopback (development only)"},
		{"WECHAT_SECRET", "wechat-secret", "", "mini-program AppSecret"},
		{"WECHAT_API_BASE", "wechat-api-base", "", "replaces https://api.weixin.qq.com, e.g. http://127.0.0.1:9100 for 'go run ./ops wxmock'"},
		{"ONEBOOK_WXMOCK_PORT", "wxmock-port", "9100", "port of the in-process fake WeChat API when WECHAT_APPID is empty"},
		{"WECHAT_TPL_VISIT", "wechat-tpl-visit", "", "subscribe-message template id for 'visit approved/refused' (keywords thing1, time2); empty: not sent (the fake WeChat uses a test id)"},
		{"WECHAT_TPL_REVOKED", "wechat-tpl-revoked", "", "subscribe-message template id for 'pass revoked' (keywords thing1, time2)"},
		{"WECHAT_TPL_ALERT", "wechat-tpl-alert", "", "subscribe-message template id for 'early-warning alert raised' sent to the responsible CDC staff (keywords thing1, time2)"},
		{"WECHAT_TPL_DONATION", "wechat-tpl-donation", "", "subscribe-message template id for 'your donation moved' sent to donors at each hop (keywords thing1, time2)"},
		{"WECHAT_TPL_TRANSFER", "wechat-tpl-transfer", "", "subscribe-message template id for 'a household member moved', sent to both households when a property manager confirms a move (keywords thing1, time2)"},
		{"ONEBOOK_ALERT_WEBHOOK", "alert-webhook", "", "URL that receives every raised early-warning alert as a JSON POST (e.g. a CDC duty system); empty: none"},
		{"ONEBOOK_RISK_REGIONS", "risk-regions", "", "comma-separated region codes whose visitors in the last 14 days are yellow"},
		{"ONEBOOK_PASS_TTL", "pass-ttl", "24h", "validity of a pass token; the mini-program refreshes it"},
		{"ONEBOOK_SESSION_TTL", "session-ttl", "12h", "validity of a session token"},
		{"ONEBOOK_REQUEST_TIMEOUT", "request-timeout", "10s", "server-side deadline of a request: one that a stalled ledger or store keeps longer answers 503 with Retry-After"},
		{"ONEBOOK_EXPORT_TIMEOUT", "export-timeout", "10m", "server-side deadline of an export (GET /exports/{view}), which reads the ledger and writes the whole bundle before answering"},
		{"ONEBOOK_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated addresses or CIDR ranges of the reverse proxies whose X-Forwarded-For names the client; empty: the socket's address is the client's"},
		{"ONEBOOK_LIMIT_SIGNIN", "limit-signin", "30", "sign-in, staff binding and dashboard-code requests per client address per minute (each replica counts its own); 0: no limit"},
		{"ONEBOOK_LIMIT_CLIENT", "limit-client", "1200", "requests per client address per minute (each replica counts its own); 0: no limit"},
		{"ONEBOOK_LIMIT_ACCOUNT", "limit-account", "600", "state-changing requests per session per minute (each replica counts its own); 0: no limit"},
	}
}

// Load parses args (without the program name) over the environment.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("onebook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := map[string]*string{}
	for _, v := range Vars() {
		def := v.Default
		if e := getenv(v.Env); e != "" {
			def = e
		}
		vals[v.Flag] = fs.String(v.Flag, def, v.Help+" ($"+v.Env+")")
	}
	if err := fs.Parse(normalizeBool(args)); err != nil {
		return Config{}, err
	}
	v := &values{raw: vals}
	c := Config{
		Addr: v.str("addr"), DataDir: v.str("data"), Origin: v.str("origin"), SealKeyFile: v.str("seal-key"),
		NATSURL: v.str("nats-url"), NATSPort: v.port("nats-port"), NATSSync: v.str("nats-sync"),
		NATSCreds: v.str("nats-creds"), NATSNKey: v.str("nats-nkey"), NATSCA: v.str("nats-ca"), NATSCert: v.str("nats-cert"), NATSKey: v.str("nats-key"),
		MongoURI: v.str("mongo-uri"), MongoDB: v.str("mongo-db"), MongoPort: v.port("mongo-port"),
		DedupWindow: v.duration("dedup-window", time.Nanosecond), SealInterval: v.duration("seal-interval", 0),
		NationInterval: v.duration("nation-interval", time.Millisecond),
		SmallCell:      v.count("small-cell", "a count"), ReportInterval: v.duration("report-interval", 100*time.Millisecond),
		SnapshotEvery: v.count("snapshot-every", "events"), SnapshotInterval: v.duration("snapshot-interval", 0),
		Projectors: v.boolean("projectors"), Demo: v.boolean("demo"),
		WeChatAppID: v.str("wechat-appid"), WeChatSecret: v.str("wechat-secret"), WeChatAPIBase: v.str("wechat-api-base"), WxmockPort: v.port("wxmock-port"),
		TemplateVisit: v.str("wechat-tpl-visit"), TemplateRevoked: v.str("wechat-tpl-revoked"), TemplateAlert: v.str("wechat-tpl-alert"),
		TemplateDonation: v.str("wechat-tpl-donation"), TemplateTransfer: v.str("wechat-tpl-transfer"),
		AlertWebhook: v.str("alert-webhook"),
		MetricsAddr:  v.hostPort("metrics-addr"), MetricsToken: v.str("metrics-token"),
		RequestTimeout: v.duration("request-timeout", time.Nanosecond), ExportTimeout: v.duration("export-timeout", time.Nanosecond),
		TrustedProxies: list(v, "trusted-proxies", addressOrRange),
		LimitSignIn:    v.perMinute("limit-signin"), LimitClient: v.perMinute("limit-client"), LimitAccount: v.perMinute("limit-account"),
		RiskRegions: list(v, "risk-regions", events.ParseRegion), NATSCredsDir: v.str("nats-creds-dir"),
		Witnesses: list(v, "witnesses", witnessKey),
		PassTTL:   v.duration("pass-ttl", time.Minute), SessionTTL: v.duration("session-ttl", time.Minute),
	}
	if c.Replicas = int(v.count("replicas", "replicas")); c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		v.fail("replicas", "must be 1, 3 or 5, got %q", v.str("replicas"))
	}
	if d, err := time.ParseDuration(c.NATSSync); c.NATSSync != "always" && (err != nil || d <= 0) {
		v.fail("nats-sync", "must be \"always\" or a positive duration, got %q", c.NATSSync)
	}
	if err := c.LogLevel.UnmarshalText([]byte(v.str("log-level"))); err != nil {
		v.fail("log-level", "%w", err)
	}
	if c.AlertWebhook != "" {
		if u, err := url.Parse(c.AlertWebhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fail("alert-webhook", "%q is not an http(s) URL", c.AlertWebhook)
		}
	}
	var err error
	if c.WitnessPush, err = ParseWitnessPush(v.str("witness-push")); err != nil {
		v.fail("witness-push", "%w", err)
	}
	if c.Partitions, err = partition.Parse(v.str("partitions")); err != nil {
		v.fail("partitions", "%w", err)
	}
	if c.SmallCell < 1 || c.SmallCell > 100 {
		v.fail("small-cell", "%d is not a threshold from 1 to 100", c.SmallCell) // aggregates.Cases refuses any other
	}
	if v.err != nil {
		return Config{}, v.err
	}
	return c, c.complete()
}

// complete fills the settings that default to others and checks those
// that depend on each other.
func (c *Config) complete() error {
	if err := c.checkPartitions(); err != nil {
		return err
	}
	if c.SealKeyFile == "" {
		c.SealKeyFile = filepath.Join(c.DataDir, "seal.key")
	}
	for _, t := range c.WitnessPush {
		if !slices.Contains(c.Witnesses, t.Key) {
			c.Witnesses = append(c.Witnesses, t.Key)
		}
	}
	if c.WeChatAppID != "" && c.WeChatSecret == "" {
		return fmt.Errorf("WECHAT_SECRET is required with WECHAT_APPID")
	}
	var err error
	if c.Addr, err = listenAddr(c.Addr, c.Development()); err != nil {
		return err
	}
	if c.Demo && !c.Development() {
		return fmt.Errorf("demo: the demo's staff sign in with the fake WeChat's demo codes, which exist only in development mode (WECHAT_APPID unset); demo data would only litter a real ledger")
	}
	if c.Origin == "" || strings.ContainsAny(c.Origin, "\n") {
		return fmt.Errorf("origin must be one non-empty line")
	}
	if c.MongoDB == "" {
		return fmt.Errorf("mongo-db must not be empty")
	}
	return nil
}

// addressOrRange checks a trusted proxy: an IP address or a CIDR range.
func addressOrRange(s string) (string, error) {
	if net.ParseIP(s) == nil {
		if _, _, err := net.ParseCIDR(s); err != nil {
			return "", fmt.Errorf("%q is not an address or a CIDR range", s)
		}
	}
	return s, nil
}

// witnessKey checks a witness's verifier key.
func witnessKey(k string) (string, error) {
	if _, err := seal.NewWitnessVerifier(k); err != nil {
		return "", fmt.Errorf("%q is not a signed-note or cosignature/v1 verifier key: %w", k, err)
	}
	return k, nil
}

// listenAddr returns the HTTP listen address: the default of the mode if
// addr is empty, addr itself if the mode allows it. Development mode
// listens on loopback only.
func listenAddr(addr string, dev bool) (string, error) {
	if addr == "" {
		if dev {
			return "127.0.0.1:8080", nil
		}
		return ":8080", nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("addr: %q is not host:port: %w", addr, err)
	}
	if dev && !isLoopback(host) {
		return "", fmt.Errorf("addr: %q is not a loopback address, and without WeChat credentials (WECHAT_APPID unset) onebook runs in development mode, "+
			"where a fake WeChat signs anyone in as anyone: set WECHAT_APPID and WECHAT_SECRET, or set ONEBOOK_ADDR (--addr) to 127.0.0.1:PORT", addr)
	}
	return addr, nil
}

// isLoopback reports whether host names only the loopback interface. An
// empty host (every interface) and host names other than localhost are not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// normalizeBool turns a bare --demo into --demo=true, so the switch works
// like a boolean flag while still being readable from the environment.
func normalizeBool(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--demo" || a == "-demo" {
			a = "--demo=true"
		}
		out[i] = a
	}
	return out
}

// FromEnv is Load over the process environment.
func FromEnv(args []string) (Config, error) { return Load(args, os.Getenv, os.Stderr) }

// WitnessTarget is a witness onebook pushes its checkpoints to.
type WitnessTarget struct {
	Key string // its cosignature/v1 verifier key
	URL string // its base URL; checkpoints go to URL + "/add-checkpoint"
}

// ParseWitnessPush parses a comma-separated list of
// "<verifier key>=<http or https URL>". The key ends before "=http" (a
// verifier key's base64 of 33 bytes has no padding).
func ParseWitnessPush(s string) ([]WitnessTarget, error) {
	var out []WitnessTarget
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		i := strings.Index(e, "=http")
		if i < 0 {
			return nil, fmt.Errorf("%q is not <verifier key>=<URL>", e)
		}
		key, raw := e[:i], e[i+1:]
		if _, err := seal.NewWitnessVerifier(key); err != nil {
			return nil, fmt.Errorf("%q is not a verifier key: %w", key, err)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%q is not an http(s) URL", raw)
		}
		out = append(out, WitnessTarget{Key: key, URL: strings.TrimSuffix(raw, "/")})
	}
	return out, nil
}
