package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The schema. YAML keys and defaults are fixed by connector.yaml.example; the field order
// here is the order used in "expected one of" hints and in String.

// Config is a loaded, defaulted and validated configuration. It is immutable after Load:
// treat every field and slice as read-only.
type Config struct {
	Server     Server     `yaml:"server"`
	LiveEngage LiveEngage `yaml:"liveengage"`
	Store      Store      `yaml:"store"`
	Delivery   Delivery   `yaml:"delivery"`
	Log        Log        `yaml:"log"`
	Channels   []Channel  `yaml:"channels"`

	file    string              // the file name as given to Load/Parse, used in positions
	dir     string              // absolute folder relative paths are resolved against
	pos     map[string]Position // dotted key path → position of its key
	secrets map[string]bool     // paths whose values came from ${VAR}
	unset   map[string]bool     // paths whose values reference unset variables (validation only)
}

// Server is the one HTTP listener.
type Server struct {
	Listen string `yaml:"listen"`
	// PublicURL is the externally reachable base URL, without a trailing slash.
	PublicURL       string        `yaml:"public_url"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
	// MaxInFlight caps the webhook requests handled at once (past it: 503
	// with Retry-After).
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxConnections caps the connections open at once (past it: 503 with
	// Retry-After, then closed).
	MaxConnections int `yaml:"max_connections"`
	TLS            TLS `yaml:"tls"`
	// InstanceID names this instance in the store's leases, logs and
	// metrics; "" means host/pid.
	InstanceID string `yaml:"instance_id"`
}

// TLS names the certificate and key for serving HTTPS directly; both empty means plain HTTP.
// Paths are absolute after Load.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the server should serve TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// LiveEngage holds the connector app's credentials and the Send API client settings.
type LiveEngage struct {
	AccountID      string `yaml:"account_id"`
	ClientID       string `yaml:"client_id"`
	ClientSecret   string `yaml:"client_secret"`
	DomainAPI      string `yaml:"domain_api"` // without a trailing slash
	AppName        string `yaml:"app_name"`
	AppDescription string `yaml:"app_description"`
	// AppLogoURI is the manifest's logo_uri; "" writes the one the official
	// manifest template carries (liveperson.TemplateLogoURI).
	AppLogoURI string `yaml:"app_logo_uri"`
	Retry      Retry  `yaml:"retry"`
}

// Retry is the Send API retry policy (LivePerson retry-policy recommendations): wait at
// least RateLimitWait after a 429 without Retry-After; after a 5xx wait each of
// ServerErrorWaits in turn, then back off from OuterBackoff, doubling up to OuterBackoffMax.
type Retry struct {
	RateLimitWait    time.Duration   `yaml:"rate_limit_wait"`
	ServerErrorWaits []time.Duration `yaml:"server_error_waits"`
	OuterBackoff     time.Duration   `yaml:"outer_backoff"`
	OuterBackoffMax  time.Duration   `yaml:"outer_backoff_max"`
}

// Store chooses and configures the store. Path is absolute after Load.
type Store struct {
	// Backend is bbolt (the embedded file, one instance) or postgres
	// (shared by every instance).
	Backend string `yaml:"backend"`
	// Path is the embedded store's file; with postgres, the directory the
	// adapters' state and the admin socket live next to.
	Path     string   `yaml:"path"`
	Postgres Postgres `yaml:"postgres"`
	// LeaseTTL is how long an instance holds a conversation it is working
	// on without renewing; after it, another instance takes over.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// Postgres configures the PostgreSQL store.
type Postgres struct {
	// DSN is a postgres:// URL or a libpq key=value string; put the
	// password in ${VAR}.
	DSN string `yaml:"dsn"`
	// MaxConns bounds the connection pool.
	MaxConns int `yaml:"max_conns"`
	// StatementTimeout bounds every statement on the server.
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	// PollInterval is how often waiters look for work even without a
	// notification from another instance.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Store backends.
const (
	BackendBolt     = "bbolt"
	BackendPostgres = "postgres"
)

// Delivery tunes how queued events are delivered in both directions.
type Delivery struct {
	// Workers bounds the conversations processed at once per direction.
	Workers int `yaml:"workers"`
	// RetryInitial and RetryMax bound the backoff between attempts at an
	// event that failed transiently (after the Send API's own retries).
	RetryInitial time.Duration `yaml:"retry_initial"`
	RetryMax     time.Duration `yaml:"retry_max"`
	// EchoWait is how long a publish whose outcome a crash or a timeout left
	// unknown waits for LiveEngage's echo of it before publishing again.
	EchoWait time.Duration `yaml:"echo_wait"`
	// ReorderWait is how long an agent event waits for a missing earlier one
	// of its conversation before it is delivered anyway.
	ReorderWait time.Duration `yaml:"reorder_wait"`
	// DrainTimeout bounds how long shutdown waits for events in flight.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// InDoubtWait is how long a message another instance may have been
	// sending when it died waits for that instance's adapter to report the
	// send (it does when the instance starts again) before it is sent again.
	InDoubtWait time.Duration `yaml:"in_doubt_wait"`
}

// Log configures the daemon's logger.
type Log struct {
	Level  string `yaml:"level"`  // trace|debug|info|warn|error
	Format string `yaml:"format"` // text|json
}

// HCLogLevel returns Level as a go-hclog level.
func (l Log) HCLogLevel() hclog.Level { return hclog.LevelFromString(l.Level) }

// JSON reports whether logs should be written as JSON.
func (l Log) JSON() bool { return l.Format == "json" }

// Channel is one enabled messaging channel, served by an adapter process.
type Channel struct {
	Name    string `yaml:"name"`
	Adapter string `yaml:"adapter"`
	// Path is a third-party adapter executable (absolute after Load); empty for built-ins.
	Path string `yaml:"path"`
	// SHA256 pins Path's content: 64 lowercase hex digits, or empty for no pin.
	SHA256       string       `yaml:"sha256"`
	Routing      Routing      `yaml:"routing"`
	Conversation Conversation `yaml:"conversation"`
	Restart      Restart      `yaml:"restart"`
	SDEs         SDEs         `yaml:"sdes"`
	Timeouts     Timeouts     `yaml:"timeouts"`
	Limits       Limits       `yaml:"limits"`
	// InDoubtSends is what becomes of a send found begun and never
	// recorded (the adapter died while its platform answered): "resend"
	// (a possible duplicate beats a lost message) or "skip" (the agent is
	// told in the conversation that the message may not have arrived).
	InDoubtSends string        `yaml:"in_doubt_sends"`
	Config       AdapterConfig `yaml:"config"`
}

// SDEs say which LiveEngage engagement attributes (SDEs) a new conversation carries, each
// from what the channel knows of the consumer. A value names a source: first_name,
// last_name, display_name, username, phone, email, locale, consumer_id, or
// attributes.NAME (a channel-specific attribute, e.g. Slack's attributes.title); several
// joined by | take the first that is set; =TEXT is TEXT itself; "" sends nothing.
type SDEs struct {
	Personal     PersonalSDE     `yaml:"personal"`
	CustomerInfo CustomerInfoSDE `yaml:"ctmrinfo"`
}

// PersonalSDE is LiveEngage's "personal" SDE (contacts[0] holds email and phone).
type PersonalSDE struct {
	FirstName string `yaml:"firstname"`
	LastName  string `yaml:"lastname"`
	Gender    string `yaml:"gender"`
	Language  string `yaml:"language"`
	Email     string `yaml:"email"`
	Phone     string `yaml:"phone"`
}

// CustomerInfoSDE is LiveEngage's "ctmrinfo" (customer info) SDE.
type CustomerInfoSDE struct {
	CustomerType  string `yaml:"ctype"`
	CustomerID    string `yaml:"customerId"`
	SocialID      string `yaml:"socialId"`
	UserName      string `yaml:"userName"`
	IMEI          string `yaml:"imei"`
	CompanyBranch string `yaml:"companyBranch"`
}

// Map is the SDE fields set, by their LiveEngage names ("personal.firstname",
// "ctmrinfo.userName"), to their sources.
func (s SDEs) Map() map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{
		"personal.firstname": s.Personal.FirstName, "personal.lastname": s.Personal.LastName,
		"personal.gender": s.Personal.Gender, "personal.language": s.Personal.Language,
		"personal.email": s.Personal.Email, "personal.phone": s.Personal.Phone,
		"ctmrinfo.ctype": s.CustomerInfo.CustomerType, "ctmrinfo.customerId": s.CustomerInfo.CustomerID,
		"ctmrinfo.socialId": s.CustomerInfo.SocialID, "ctmrinfo.userName": s.CustomerInfo.UserName,
		"ctmrinfo.imei": s.CustomerInfo.IMEI, "ctmrinfo.companyBranch": s.CustomerInfo.CompanyBranch,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// SDESources are the consumer fields an SDE can come from (besides attributes.NAME).
var SDESources = []string{"first_name", "last_name", "display_name", "username", "phone", "email", "locale", "consumer_id"}

// Timeouts bound each call the core makes to a channel's adapter. A call past its
// deadline fails; MaxMissed in a row of one kind (Health checks included) and the
// adapter process is killed and restarted under the restart policy.
type Timeouts struct {
	Describe       time.Duration `yaml:"describe"`
	Configure      time.Duration `yaml:"configure"`
	Start          time.Duration `yaml:"start"`
	Webhook        time.Duration `yaml:"webhook"`
	Send           time.Duration `yaml:"send"`
	Typing         time.Duration `yaml:"typing"`
	MarkRead       time.Duration `yaml:"mark_read"`
	Health         time.Duration `yaml:"health"`
	Close          time.Duration `yaml:"close"`
	HealthInterval time.Duration `yaml:"health_interval"`
	MaxMissed      int           `yaml:"max_missed"`
}

// Limits bound what a channel's adapter may hand the core, so that the core's memory
// stays bounded whatever an adapter sends. A Deliver call over a bound is refused
// whole with a typed error, and nothing of it is stored.
type Limits struct {
	MaxTextChars      int   `yaml:"max_text_chars"`
	MaxMediaBytes     int64 `yaml:"max_media_bytes"`
	MaxBatchEvents    int   `yaml:"max_batch_events"`
	MaxInFlightBytes  int64 `yaml:"max_in_flight_bytes"`
	LogLinesPerSecond int   `yaml:"log_lines_per_second"`
}

// Bounds on the limits themselves.
const (
	// MaxTextChars is the Send API's limit on a whole request: no longer text can be published.
	MaxTextChars = 5000
	// MaxInFlightBytes is the largest gRPC message an adapter and the core exchange (64 MiB).
	MaxInFlightBytes = 64 << 20
)

// Conversation is how conversations on a channel begin and end.
type Conversation struct {
	// EndKeyword, sent alone by the consumer, closes the conversation; "" disables it.
	EndKeyword string `yaml:"end_keyword"`
	// ClosingMessage is sent to the consumer when the agent closes; "" sends nothing.
	ClosingMessage string `yaml:"closing_message"`
	// CSATPrompt, when set, follows the closing message; the consumer's answer, a
	// number from 1 to 5, is recorded in LiveEngage as CSAT.
	CSATPrompt string `yaml:"csat_prompt"`
	// TransferMessage, when set, is sent to the consumer when the agent leaves an open
	// conversation (a transfer to another skill or agent, or back to the queue); "" sends nothing.
	TransferMessage string `yaml:"transfer_message"`
	// FCRPrompt, when set with CSATPrompt, is asked after the CSAT answer ("was your issue
	// resolved?"), with FCRYes and FCRNo as the answers offered.
	FCRPrompt string `yaml:"fcr_prompt"`
	FCRYes    string `yaml:"fcr_yes"`
	FCRNo     string `yaml:"fcr_no"`
	// SurveyRetry is said before a survey question is asked again after a wrong answer.
	SurveyRetry string `yaml:"survey_retry"`
	// SurveyThanks ends the survey.
	SurveyThanks string `yaml:"survey_thanks"`
	// SurveyTimeout abandons an unanswered survey; the next message opens a new conversation.
	SurveyTimeout time.Duration `yaml:"survey_timeout"`
}

// Builtin reports whether the channel runs one of the adapters built into the daemon.
func (ch Channel) Builtin() bool { return ch.Path == "" }

// Routing is the LiveEngage routing for conversations opened from a channel. Ids are
// numeric strings; empty means unset.
type Routing struct {
	SkillID      string `yaml:"skill_id"`
	CampaignID   string `yaml:"campaign_id"`
	EngagementID string `yaml:"engagement_id"`
}

// Restart is the adapter crash supervision policy: after MaxCrashes crashes within Window
// the channel is marked unhealthy; restarts back off from InitialBackoff up to MaxBackoff.
type Restart struct {
	MaxCrashes     int           `yaml:"max_crashes"`
	Window         time.Duration `yaml:"window"`
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
}

// Defaults. Keep in step with connector.yaml.example; a test compares them.
const (
	DefaultListen    = "127.0.0.1:8080"
	DefaultDomainAPI = "https://api.liveperson.net"
)

func (c *Config) setDefaults() {
	c.Server = Server{
		Listen:          DefaultListen,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    10 * time.Second,
		IdleTimeout:     120 * time.Second,
		ShutdownTimeout: 15 * time.Second,
		MaxBodyBytes:    1 << 20,
		MaxInFlight:     1024,
		MaxConnections:  4096,
	}
	c.LiveEngage = LiveEngage{
		DomainAPI:      DefaultDomainAPI,
		AppName:        "leconnect",
		AppDescription: "LiveEngage connector powered by leconnect",
		Retry: Retry{
			RateLimitWait:    time.Second,
			ServerErrorWaits: []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second},
			OuterBackoff:     time.Minute,
			OuterBackoffMax:  10 * time.Minute,
		},
	}
	c.Store = Store{Backend: BackendBolt, Path: "leconnect.db", LeaseTTL: 30 * time.Second,
		Postgres: Postgres{MaxConns: 16, StatementTimeout: 10 * time.Second, PollInterval: 5 * time.Second}}
	c.Delivery = Delivery{
		Workers:      64,
		RetryInitial: time.Second,
		RetryMax:     time.Minute,
		EchoWait:     2 * time.Minute,
		ReorderWait:  2 * time.Second,
		DrainTimeout: 10 * time.Second,
		InDoubtWait:  30 * time.Second,
	}
	c.Log = Log{Level: "info", Format: "text"}
}

// setDefaults is called by the decoder on every new channel before it is filled in.
func (ch *Channel) setDefaults() {
	ch.Conversation = Conversation{
		EndKeyword:     "/end",
		ClosingMessage: "This conversation has ended. Thank you for contacting us.",
		FCRYes:         "Yes",
		FCRNo:          "No",
		SurveyRetry:    "Sorry, I did not get that.",
		SurveyThanks:   "Thank you for your feedback!",
		SurveyTimeout:  30 * time.Minute,
	}
	ch.InDoubtSends = "resend"
	ch.Restart = Restart{
		MaxCrashes:     5,
		Window:         5 * time.Minute,
		InitialBackoff: time.Second,
		MaxBackoff:     30 * time.Second,
	}
	ch.SDEs = SDEs{
		Personal:     PersonalSDE{FirstName: "first_name|display_name", LastName: "last_name", Language: "locale", Email: "email", Phone: "phone"},
		CustomerInfo: CustomerInfoSDE{UserName: "username"},
	}
	ch.Timeouts = Timeouts{
		Describe: 10 * time.Second, Configure: 30 * time.Second, Start: 30 * time.Second,
		Webhook: 10 * time.Second, Send: time.Minute, Typing: 5 * time.Second, MarkRead: 10 * time.Second,
		Health: 5 * time.Second, Close: 10 * time.Second, HealthInterval: 10 * time.Second, MaxMissed: 3,
	}
	ch.Limits = Limits{
		MaxTextChars: MaxTextChars, MaxMediaBytes: 20 << 20, MaxBatchEvents: 100,
		MaxInFlightBytes: 32 << 20, LogLinesPerSecond: 1000,
	}
}

var (
	channelNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	sha256RE      = regexp.MustCompile(`^[0-9a-f]{64}$`)
	numericRE     = regexp.MustCompile(`^[0-9]{1,19}$`)
	// skillRE also admits LiveEngage's "-1", meaning "all skills".
	skillRE = regexp.MustCompile(`^(-1|[0-9]{1,19})$`)
)

// validator collects problems and warnings, locating each by key path.
type validator struct {
	c        *Config
	opts     *options
	failed   map[string]bool // paths the decoder already reported
	problems []Problem
	warnings []Problem
}

// where returns the position of path, or of its nearest present ancestor (so a missing
// key points at its parent mapping), or the top of the file.
func (c *Config) where(path string) Position {
	for p := path; p != ""; {
		if pos, ok := c.pos[p]; ok {
			return pos
		}
		cut := strings.LastIndexAny(p, ".[")
		if cut < 0 {
			break
		}
		p = p[:cut]
	}
	if pos, ok := c.pos[""]; ok {
		return pos
	}
	return Position{File: c.file, Line: 1, Column: 1}
}

func (v *validator) errorf(path, format string, args ...any) {
	if v.decodeFailed(path) {
		return
	}
	v.problems = append(v.problems, Problem{Pos: v.c.where(path), Path: path, Message: fmt.Sprintf(format, args...)})
}

// decodeFailed reports whether the decoder already reported path or one of its parents
// (e.g. "server" written as a list), in which case rules about it would only repeat that.
func (v *validator) decodeFailed(path string) bool {
	for p := path; ; {
		if v.failed[p] {
			return true
		}
		if p == "" {
			return false
		}
		cut := max(strings.LastIndexAny(p, ".["), 0)
		p = p[:cut]
	}
}

func (v *validator) warnf(path, format string, args ...any) {
	v.warnings = append(v.warnings, Problem{Pos: v.c.where(path), Path: path, Message: fmt.Sprintf(format, args...)})
}

// show renders a value for a message, naming ${VAR}-sourced values instead of printing them.
func (v *validator) show(path, value string) string {
	if v.c.secrets[path] {
		return "the value from the environment"
	}
	return strconv.Quote(value)
}

// required reports an empty value; set says whether the key is in the file at all.
func (v *validator) required(path, value, expected string) bool {
	if value != "" {
		return true
	}
	if _, set := v.c.pos[path]; set {
		v.errorf(path, "must not be empty; expected %s", expected)
	} else {
		v.errorf(path, "missing required value; expected %s", expected)
	}
	return false
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.errorf(path, "%s is not positive; expected a duration greater than zero, e.g. 10s", d)
	}
}

// validate checks every rule and resolves relative paths. It runs once, after decoding
// succeeded structurally, so the messages here can trust field types.
func (v *validator) validate() {
	c := v.c
	s := &c.Server
	if s.Listen == "" {
		v.errorf("server.listen", "must not be empty; expected host:port such as %s", DefaultListen)
	} else if _, port, err := net.SplitHostPort(s.Listen); err != nil {
		v.errorf("server.listen", "%s is not host:port; expected e.g. %s or :8080", v.show("server.listen", s.Listen), DefaultListen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf("server.listen", "port %q is not a number from 0 to 65535", port)
	}
	if v.required("server.public_url", s.PublicURL, "the absolute http(s) URL where LiveEngage and the platforms reach this daemon, e.g. https://connector.example.com") {
		s.PublicURL = v.baseURL("server.public_url", s.PublicURL)
		if strings.HasPrefix(s.PublicURL, "http://") {
			v.warnf("server.public_url", "uses http; LiveEngage only delivers webhooks to https endpoints (fine for the emulator)")
		}
	}
	v.positive("server.read_timeout", s.ReadTimeout)
	v.positive("server.write_timeout", s.WriteTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
	if s.MaxBodyBytes <= 0 {
		v.errorf("server.max_body_bytes", "%d is not positive; expected a byte count such as 1048576", s.MaxBodyBytes)
	}
	if s.MaxInFlight <= 0 {
		v.errorf("server.max_in_flight", "%d is not positive; expected a number of requests such as 1024", s.MaxInFlight)
	}
	if s.MaxConnections < s.MaxInFlight {
		v.errorf("server.max_connections", "%d is below max_in_flight (%d); expected a number of connections such as 4096", s.MaxConnections, s.MaxInFlight)
	}
	switch {
	case s.TLS.CertFile != "" && s.TLS.KeyFile == "":
		v.errorf("server.tls.key_file", "missing; expected key_file together with cert_file (both or neither)")
	case s.TLS.CertFile == "" && s.TLS.KeyFile != "":
		v.errorf("server.tls.cert_file", "missing; expected cert_file together with key_file (both or neither)")
	case s.TLS.Enabled():
		s.TLS.CertFile = v.existingFile("server.tls.cert_file", s.TLS.CertFile, false)
		s.TLS.KeyFile = v.existingFile("server.tls.key_file", s.TLS.KeyFile, false)
	}

	dl := c.Delivery
	if dl.Workers <= 0 || dl.Workers > 10000 {
		v.errorf("delivery.workers", "%d is out of range; expected a count from 1 to 10000 such as 64", dl.Workers)
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{{"retry_initial", dl.RetryInitial}, {"retry_max", dl.RetryMax}, {"echo_wait", dl.EchoWait}, {"reorder_wait", dl.ReorderWait}, {"drain_timeout", dl.DrainTimeout}, {"in_doubt_wait", dl.InDoubtWait}} {
		v.positive("delivery."+d.key, d.val)
	}
	if dl.RetryInitial > 0 && dl.RetryMax < dl.RetryInitial {
		v.errorf("delivery.retry_max", "%s is less than retry_initial (%s); expected a cap at least as long", dl.RetryMax, dl.RetryInitial)
	}

	le := &c.LiveEngage
	if v.required("liveengage.account_id", le.AccountID, "the LiveEngage account (site) id, e.g. \"12345678\"") && !numericRE.MatchString(le.AccountID) {
		v.errorf("liveengage.account_id", "%s is not an account id; expected digits only, e.g. \"12345678\"", v.show("liveengage.account_id", le.AccountID))
	}
	v.required("liveengage.client_id", le.ClientID, "the connector app's OAuth client id")
	// The secret is never echoed, not even when it is malformed.
	v.required("liveengage.client_secret", le.ClientSecret, "the connector app's OAuth client secret, typically ${LE_CLIENT_SECRET}")
	if v.required("liveengage.domain_api", le.DomainAPI, "an absolute http(s) URL such as "+DefaultDomainAPI) {
		le.DomainAPI = v.baseURL("liveengage.domain_api", le.DomainAPI)
	}
	v.required("liveengage.app_name", le.AppName, "the app's client_name, e.g. leconnect")
	r := le.Retry
	v.positive("liveengage.retry.rate_limit_wait", r.RateLimitWait)
	for i, w := range r.ServerErrorWaits {
		v.positive(fmt.Sprintf("liveengage.retry.server_error_waits[%d]", i), w)
	}
	v.positive("liveengage.retry.outer_backoff", r.OuterBackoff)
	v.positive("liveengage.retry.outer_backoff_max", r.OuterBackoffMax)
	if r.OuterBackoff > 0 && r.OuterBackoffMax < r.OuterBackoff {
		v.errorf("liveengage.retry.outer_backoff_max", "%s is less than outer_backoff (%s); expected a cap at least as long", r.OuterBackoffMax, r.OuterBackoff)
	}

	v.store(&c.Store)

	levels := []string{"trace", "debug", "info", "warn", "error"}
	if !slices.Contains(levels, c.Log.Level) {
		v.errorf("log.level", "%s is not a log level; expected one of: %s", v.show("log.level", c.Log.Level), strings.Join(levels, ", "))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		v.errorf("log.format", "%s is not a log format; expected text or json", v.show("log.format", c.Log.Format))
	}

	if len(c.Channels) == 0 {
		v.warnf("channels", "no channels configured; the daemon will serve LiveEngage webhooks but no messaging channel")
	}
	names := map[string]int{}
	for i := range c.Channels {
		v.channel(i, &c.Channels[i], names)
	}
}

func (v *validator) store(st *Store) {
	if v.required("store.path", st.Path, "a file name for the embedded store (with postgres: for the adapters' state next to it), e.g. leconnect.db") {
		st.Path = v.c.resolve(st.Path)
	}
	v.positive("store.lease_ttl", st.LeaseTTL)
	switch st.Backend {
	case BackendBolt:
	case BackendPostgres:
		pg := st.Postgres
		if v.required("store.postgres.dsn", pg.DSN, "postgres://USER:${PGPASSWORD}@HOST:5432/DATABASE or a libpq key=value string") &&
			!strings.HasPrefix(pg.DSN, "postgres://") && !strings.HasPrefix(pg.DSN, "postgresql://") && !strings.Contains(pg.DSN, "=") {
			// Never echoed: it may hold a password.
			v.errorf("store.postgres.dsn", "is not a PostgreSQL connection string; expected postgres://USER:PASSWORD@HOST:5432/DATABASE or host=... dbname=...")
		}
		if pg.MaxConns < 2 || pg.MaxConns > 1000 {
			v.errorf("store.postgres.max_conns", "%d is out of range; expected a count from 2 to 1000 such as 16 (one is kept for notifications)", pg.MaxConns)
		}
		v.positive("store.postgres.statement_timeout", pg.StatementTimeout)
		v.positive("store.postgres.poll_interval", pg.PollInterval)
	default:
		v.errorf("store.backend", "%s is not a store backend; expected %s (the embedded file, the default) or %s", v.show("store.backend", st.Backend), BackendBolt, BackendPostgres)
	}
}

func (v *validator) channel(i int, ch *Channel, names map[string]int) {
	p := fmt.Sprintf("channels[%d]", i)
	if v.required(p+".name", ch.Name, "a channel name such as support-telegram") {
		if !channelNameRE.MatchString(ch.Name) {
			v.errorf(p+".name", "%s is not a valid channel name; expected a lowercase letter followed by up to 62 lowercase letters, digits, '-' or '_'", v.show(p+".name", ch.Name))
		} else if first, dup := names[ch.Name]; dup {
			v.errorf(p+".name", "duplicate channel name %q (already used by channels[%d] at line %d); expected unique names", ch.Name, first, v.c.where(fmt.Sprintf("channels[%d].name", first)).Line)
		} else {
			names[ch.Name] = i
		}
	}
	if v.required(p+".adapter", ch.Adapter, "a built-in adapter name, or any label together with path") && ch.Path == "" && !slices.Contains(v.opts.builtinAdapters, ch.Adapter) {
		builtins := "none"
		if len(v.opts.builtinAdapters) > 0 {
			builtins = strings.Join(v.opts.builtinAdapters, ", ")
		}
		v.errorf(p+".adapter", "unknown adapter %q (built-in adapters: %s; or set path)", ch.Adapter, builtins)
	}
	if ch.Path != "" {
		ch.Path = v.existingFile(p+".path", ch.Path, true)
	}
	if ch.SHA256 != "" {
		if ch.Path == "" {
			v.errorf(p+".sha256", "set without path; expected sha256 only together with path (built-in adapters are not pinned)")
		} else if !sha256RE.MatchString(ch.SHA256) {
			v.errorf(p+".sha256", "%s is not a sha256 digest; expected 64 lowercase hex characters (sha256sum output)", v.show(p+".sha256", ch.SHA256))
		}
	}
	rt := ch.Routing
	if rt.SkillID != "" && !skillRE.MatchString(rt.SkillID) {
		v.errorf(p+".routing.skill_id", "%s is not a skill id; expected a numeric string such as \"123456\"", v.show(p+".routing.skill_id", rt.SkillID))
	}
	for _, f := range []struct{ key, val string }{{"campaign_id", rt.CampaignID}, {"engagement_id", rt.EngagementID}} {
		if f.val != "" && !numericRE.MatchString(f.val) {
			v.errorf(p+".routing."+f.key, "%s is not an id; expected a numeric string such as \"987654\"", v.show(p+".routing."+f.key, f.val))
		}
	}
	switch {
	case rt.CampaignID != "" && rt.EngagementID == "":
		v.errorf(p+".routing.engagement_id", "missing; expected engagement_id together with campaign_id (both or neither)")
	case rt.CampaignID == "" && rt.EngagementID != "":
		v.errorf(p+".routing.campaign_id", "missing; expected campaign_id together with engagement_id (both or neither)")
	}
	if ch.InDoubtSends != "resend" && ch.InDoubtSends != "skip" {
		v.errorf(p+".in_doubt_sends", "%s is not a policy; expected resend (a possible duplicate beats a lost message) or skip (the agent is told)", v.show(p+".in_doubt_sends", ch.InDoubtSends))
	}
	rs := ch.Restart
	if rs.MaxCrashes <= 0 {
		v.errorf(p+".restart.max_crashes", "%d is not positive; expected a count such as 5", rs.MaxCrashes)
	}
	v.positive(p+".restart.window", rs.Window)
	v.positive(p+".restart.initial_backoff", rs.InitialBackoff)
	v.positive(p+".restart.max_backoff", rs.MaxBackoff)
	if rs.InitialBackoff > 0 && rs.MaxBackoff < rs.InitialBackoff {
		v.errorf(p+".restart.max_backoff", "%s is less than initial_backoff (%s); expected a cap at least as long", rs.MaxBackoff, rs.InitialBackoff)
	}
	for field, source := range ch.SDEs.Map() {
		if problem := sdeSourceProblem(source); problem != "" {
			key := p + ".sdes." + field
			v.errorf(key, "%s: %s", v.show(key, source), problem)
		}
	}
	cv := ch.Conversation
	v.positive(p+".conversation.survey_timeout", cv.SurveyTimeout)
	if cv.FCRPrompt != "" {
		if cv.CSATPrompt == "" {
			v.errorf(p+".conversation.fcr_prompt", "set without csat_prompt; expected both (FCR is asked after the CSAT answer) or neither")
		}
		if cv.FCRYes == "" || cv.FCRNo == "" || strings.EqualFold(cv.FCRYes, cv.FCRNo) {
			v.errorf(p+".conversation.fcr_yes", "%q and %q; expected two different, non-empty answers", cv.FCRYes, cv.FCRNo)
		}
	}
	to := ch.Timeouts
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"describe", to.Describe}, {"configure", to.Configure}, {"start", to.Start}, {"webhook", to.Webhook},
		{"send", to.Send}, {"typing", to.Typing}, {"mark_read", to.MarkRead}, {"health", to.Health},
		{"close", to.Close}, {"health_interval", to.HealthInterval},
	} {
		v.positive(p+".timeouts."+d.key, d.val)
	}
	if to.MaxMissed <= 0 {
		v.errorf(p+".timeouts.max_missed", "%d is not positive; expected a count such as 3", to.MaxMissed)
	}
	lim := ch.Limits
	if lim.MaxTextChars <= 0 || lim.MaxTextChars > MaxTextChars {
		v.errorf(p+".limits.max_text_chars", "%d is out of range; expected 1 to %d (LiveEngage takes no longer request)", lim.MaxTextChars, MaxTextChars)
	}
	if lim.MaxBatchEvents <= 0 {
		v.errorf(p+".limits.max_batch_events", "%d is not positive; expected a count such as 100", lim.MaxBatchEvents)
	}
	if lim.LogLinesPerSecond <= 0 {
		v.errorf(p+".limits.log_lines_per_second", "%d is not positive; expected a rate such as 1000", lim.LogLinesPerSecond)
	}
	switch {
	case lim.MaxInFlightBytes <= 0 || lim.MaxInFlightBytes > MaxInFlightBytes:
		v.errorf(p+".limits.max_in_flight_bytes", "%d is out of range; expected a byte count from 1 to %d (64 MiB)", lim.MaxInFlightBytes, MaxInFlightBytes)
	case lim.MaxMediaBytes <= 0 || lim.MaxMediaBytes >= lim.MaxInFlightBytes:
		v.errorf(p+".limits.max_media_bytes", "%d is out of range; expected a byte count above 0 and below max_in_flight_bytes (%d), or no media that large could ever be delivered", lim.MaxMediaBytes, lim.MaxInFlightBytes)
	}
	if ch.Config.path == "" {
		// No `config:` key: the adapter gets {} and its field errors point at the channel.
		ch.Config.path, ch.Config.pos = p+".config", v.c.where(p+".config")
	}
}

// baseURL checks an absolute http(s) URL and returns it without a trailing slash, so
// callers can append paths such as /webhooks/liveperson.
func (v *validator) baseURL(path, raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		v.errorf(path, "%s is not an absolute URL; expected e.g. https://connector.example.com", v.show(path, raw))
	case u.Scheme != "http" && u.Scheme != "https":
		v.errorf(path, "scheme %q is not supported; expected http or https", u.Scheme)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		v.errorf(path, "%s has a query, fragment or user info; expected a plain base URL", v.show(path, raw))
	}
	return strings.TrimRight(raw, "/")
}

// existingFile resolves a path against the config folder and checks it names a regular
// file (and, for adapters, an executable one).
func (v *validator) existingFile(path, p string, executable bool) string {
	abs := v.c.resolve(p)
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		v.errorf(path, "%s: %s; expected an existing file (relative paths are relative to the config file's folder)", v.show(path, p), statReason(err))
	case !fi.Mode().IsRegular():
		v.errorf(path, "%s is not a regular file; expected a file", v.show(path, p))
	case executable && fi.Mode().Perm()&0o111 == 0:
		v.errorf(path, "%s is not executable; expected an adapter executable (chmod +x)", v.show(path, p))
	}
	return abs
}

func statReason(err error) string {
	switch {
	case os.IsNotExist(err):
		return "no such file"
	case os.IsPermission(err):
		return "permission denied"
	default:
		return "cannot be read"
	}
}

func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// sdeSourceProblem says what is wrong with an SDE's source, or "".
func sdeSourceProblem(source string) string {
	if strings.HasPrefix(source, "=") {
		return ""
	}
	for _, alt := range strings.Split(source, "|") {
		alt = strings.TrimSpace(alt)
		if name, ok := strings.CutPrefix(alt, "attributes."); ok && name != "" {
			continue
		}
		if !slices.Contains(SDESources, alt) {
			return fmt.Sprintf("%q is not a source; expected one of %s, attributes.NAME, several joined by |, or =TEXT",
				alt, strings.Join(SDESources, ", "))
		}
	}
	return ""
}
