package sms

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// Config is the channel's `config:` block. provider picks the keys that
// apply; every problem is reported at once.
type Config struct {
	// Provider is "twilio" or "vonage". Required.
	Provider string `json:"provider"`

	// AccountSID and AuthToken are the Twilio account's credentials: Basic
	// auth for the Messages API, and the key of X-Twilio-Signature.
	AccountSID string `json:"account_sid"`
	AuthToken  string `json:"auth_token"`
	// MessagingServiceSID (MG...) sends through a Twilio Messaging Service
	// instead of From.
	MessagingServiceSID string `json:"messaging_service_sid"`

	// APIKey and APISecret are the Vonage account's credentials.
	APIKey    string `json:"api_key"`
	APISecret string `json:"api_secret"`
	// WebhookToken authenticates Vonage webhooks: the inbound and DLR URLs
	// configured at Vonage carry it as ?token=... Required for Vonage, whose
	// own signed webhooks are not covered by the reference.
	WebhookToken string `json:"webhook_token"`

	// From is the sending number in E.164 (+14155550100); for Vonage also
	// an alphanumeric sender. Required unless messaging_service_sid is set.
	From string `json:"from"`
	// APIBaseURL is the provider's API [https://api.twilio.com,
	// https://rest.nexmo.com]; point it at the emulator in tests.
	APIBaseURL string `json:"api_base_url"`
	// PublicURL is the exact URL configured at the provider for this
	// channel's webhook, when it differs from the core's
	// (server.public_url + /channels/<name>/webhook), e.g. behind a proxy
	// that rewrites paths. Twilio signs against it; status callback and
	// media URLs are built on it.
	PublicURL string `json:"public_url"`

	// MaxTextLength is the longest text sent in one message, in characters
	// [1600, Twilio's Body limit]; longer agent texts are split.
	MaxTextLength int `json:"max_text_length"`
	// MediaURLTTL is how long a signed agent-media URL stays valid, as a Go
	// duration [1h].
	MediaURLTTL string `json:"media_url_ttl"`
	// HelpText, when set, answers HELP/INFO directly and the keyword is not
	// passed to the agent; empty passes HELP on as a message.
	HelpText string `json:"help_text"`
	// RequestTimeout bounds one provider API call, as a Go duration [30s].
	RequestTimeout string `json:"request_timeout"`
	// Downloads widens where inbound media may be fetched from: Twilio's
	// hosts (twilioMediaHosts) and api_base_url's host always; internal
	// addresses only in allow_networks.
	Downloads safehttp.Config `json:"downloads"`
}

// settings is Config validated, with defaults applied.
type settings struct {
	provider       string
	accountSID     string
	authToken      string
	serviceSID     string
	apiKey         string
	apiSecret      string
	webhookToken   string
	from           string
	apiBase        string
	publicURL      string
	maxText        int
	mediaTTL       time.Duration
	helpText       string
	requestTimeout time.Duration
	downloads      safehttp.Policy
}

// Default API servers.
const (
	DefaultTwilioAPIBaseURL = "https://api.twilio.com"
	DefaultVonageAPIBaseURL = "https://rest.nexmo.com"
)

// twilioMediaHosts are where a Twilio MediaUrl points and redirects to:
// the API itself, then the media store (s3-external-1.amazonaws.com, or
// mms.twiliocdn.com when HTTP auth on media is enforced; Twilio support
// article 223183748).
var twilioMediaHosts = []string{"api.twilio.com", "*.twiliocdn.com", "s3-external-1.amazonaws.com"}

// maxMediaBytes bounds one inbound file (Twilio's MMS limit is 5 MB).
const maxMediaBytes = 5 << 20

var (
	e164Pattern       = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-zA-Z]{32}$`)
	serviceSIDPattern = regexp.MustCompile(`^MG[0-9a-zA-Z]{32}$`)
	alphaSender       = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
)

// parseConfig decodes and validates a config block without touching the
// network (`leconnect validate` runs it offline). Secrets are never echoed.
func parseConfig(c sdk.Config) (settings, error) {
	var cfg Config
	var fe sdk.FieldErrors
	fe.Merge(c.Decode(&cfg))
	if len(fe) > 0 {
		return settings{}, fe.Err()
	}
	s := settings{
		provider: cfg.Provider, accountSID: cfg.AccountSID, authToken: cfg.AuthToken,
		serviceSID: cfg.MessagingServiceSID, apiKey: cfg.APIKey, apiSecret: cfg.APISecret,
		webhookToken: cfg.WebhookToken, from: cfg.From, helpText: strings.TrimSpace(cfg.HelpText),
		apiBase: strings.TrimRight(cfg.APIBaseURL, "/"), publicURL: cfg.PublicURL,
		maxText: 1600, mediaTTL: time.Hour, requestTimeout: 30 * time.Second,
	}
	var defaultBase string
	switch cfg.Provider {
	case "twilio":
		defaultBase = DefaultTwilioAPIBaseURL
		switch {
		case cfg.AccountSID == "":
			fe.Add("account_sid", "required for twilio; the Account SID, AC followed by 32 characters")
		case !accountSIDPattern.MatchString(cfg.AccountSID):
			fe.Add("account_sid", "must be AC followed by 32 letters or digits")
		}
		if cfg.AuthToken == "" {
			fe.Add("auth_token", "required for twilio; the account's Auth Token (it also verifies X-Twilio-Signature)")
		}
		if cfg.MessagingServiceSID != "" && !serviceSIDPattern.MatchString(cfg.MessagingServiceSID) {
			fe.Add("messaging_service_sid", "must be MG followed by 32 letters or digits")
		}
		switch {
		case cfg.From == "" && cfg.MessagingServiceSID == "":
			fe.Add("from", "required unless messaging_service_sid is set; the sending number in E.164, like +14155550100")
		case cfg.From != "" && !e164Pattern.MatchString(cfg.From):
			fe.Add("from", "must be a number in E.164, like +14155550100, got %q", cfg.From)
		}
		for k, v := range map[string]string{"api_key": cfg.APIKey, "api_secret": cfg.APISecret, "webhook_token": cfg.WebhookToken} {
			if v != "" {
				fe.Add(k, "is a vonage key; provider is twilio")
			}
		}
	case "vonage":
		defaultBase = DefaultVonageAPIBaseURL
		if cfg.APIKey == "" {
			fe.Add("api_key", "required for vonage; the account's API key")
		}
		if cfg.APISecret == "" {
			fe.Add("api_secret", "required for vonage; the account's API secret")
		}
		if len(cfg.WebhookToken) < 16 {
			fe.Add("webhook_token", "required for vonage: at least 16 characters; configure Vonage's inbound and delivery receipt URLs with ?token=<this value>")
		}
		switch {
		case cfg.From == "":
			fe.Add("from", "required for vonage; the sending number in E.164 or an alphanumeric sender of up to 11 characters")
		case !e164Pattern.MatchString(cfg.From) && !alphaSender.MatchString(cfg.From):
			fe.Add("from", "must be a number in E.164 or up to 11 letters, digits and spaces, got %q", cfg.From)
		}
		for k, v := range map[string]string{"account_sid": cfg.AccountSID, "auth_token": cfg.AuthToken, "messaging_service_sid": cfg.MessagingServiceSID} {
			if v != "" {
				fe.Add(k, "is a twilio key; provider is vonage")
			}
		}
	case "":
		fe.Add("provider", "required; \"twilio\" or \"vonage\"")
	default:
		fe.Add("provider", "must be \"twilio\" or \"vonage\", got %q", cfg.Provider)
	}
	if s.apiBase == "" {
		s.apiBase = defaultBase
	} else if !absoluteHTTP(s.apiBase) {
		fe.Add("api_base_url", "must be an absolute http(s) URL such as %s, got %q", defaultBase, cfg.APIBaseURL)
	}
	if cfg.PublicURL != "" && !absoluteHTTP(cfg.PublicURL) {
		fe.Add("public_url", "must be an absolute http(s) URL, got %q", cfg.PublicURL)
	}
	if cfg.MaxTextLength != 0 {
		if cfg.MaxTextLength < 160 || cfg.MaxTextLength > 1600 {
			fe.Add("max_text_length", "must be 160-1600 characters (Twilio's Body limit is 1600), got %d", cfg.MaxTextLength)
		}
		s.maxText = cfg.MaxTextLength
	}
	s.mediaTTL = fe.Duration("media_url_ttl", cfg.MediaURLTTL, s.mediaTTL, time.Minute, 7*24*time.Hour)
	s.requestTimeout = fe.Duration("request_timeout", cfg.RequestTimeout, s.requestTimeout, 100*time.Millisecond, 10*time.Minute)
	s.downloads = safehttp.Policy{Hosts: twilioMediaHosts, MaxBytes: maxMediaBytes, Timeout: s.requestTimeout}
	if cfg.APIBaseURL != "" {
		// The operator named this host (an emulator, a proxy): trusted as
		// the credentials sent to it are.
		s.downloads.Trusted = safehttp.Origins(s.apiBase)
	}
	s.downloads = cfg.Downloads.Apply(s.downloads, &fe, "downloads")
	return s, fe.Err()
}

func absoluteHTTP(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
