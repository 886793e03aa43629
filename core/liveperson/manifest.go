package liveperson

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// WebhookPath is where the core's server receives LiveEngage webhooks.
const WebhookPath = "/webhooks/liveperson"

// WebhookTypes are the five capabilities.webhooks keys, in the order the
// documentation lists them.
var WebhookTypes = []string{
	"ms.MessagingEventNotification.ContentEvent",
	"ms.MessagingEventNotification.RichContentEvent",
	"ms.MessagingEventNotification.AcceptStatusEvent",
	"ms.MessagingEventNotification.ChatStateEvent",
	"cqm.ExConversationChangeNotification",
}

// DefaultRetentionTime is the recommended webhook retry setting: TTL mode
// (retry.retention_time, preferred over the deprecated per-webhook
// max_retries) keeping failed events for one day and replaying them in
// per-conversation order.
const DefaultRetentionTime = 86400

// TemplateLogoURI is the logo_uri of LivePerson's manifest template for
// connector apps (a logo of the LiveEngage console's own).
const TemplateLogoURI = "/src/modules/campaigns/assets/img/software/Mobile-App.png"

// ManifestParams feeds BuildManifest.
type ManifestParams struct {
	// ClientName is shown to agents as the conversation source (required,
	// at most 128 characters).
	ClientName string
	// DisplayName is optional.
	DisplayName string
	// Description is at most 256 characters.
	Description string
	// LogoURI is the app's logo; "" means TemplateLogoURI.
	LogoURI string
	// WebhookURL receives all five notification types; build it with
	// WebhookURL(public_url). It must be https unless AllowInsecureWebhook.
	WebhookURL string
	// AllowInsecureWebhook permits an http:// endpoint (emulator only;
	// LiveEngage itself requires https).
	AllowInsecureWebhook bool
	// Headers are custom headers LiveEngage adds to every webhook call.
	Headers []ManifestHeader
	// RetentionTime is retry.retention_time in seconds (2..259200). 0 means
	// DefaultRetentionTime; -1 leaves the retry block out.
	RetentionTime int
	// MaxRetries, when set, is max_retries (0..5) on every webhook. Left
	// out by default: with TTL mode it would only weaken it (0 drops events).
	MaxRetries *int
	// Engagement is capabilities.engagement; nil means DefaultEngagement().
	Engagement *Engagement
}

// ManifestHeader is one custom webhook header.
type ManifestHeader struct {
	Name  string `json:"header_name"`
	Value string `json:"header_value"`
}

// Engagement is capabilities.engagement.
type Engagement struct {
	DesignEngagement  bool     `json:"design_engagement"`
	DesignWindow      bool     `json:"design_window"`
	EntryPoint        []string `json:"entry_point"`
	VisitorBehavior   []string `json:"visitor_behavior"`
	TargetAudience    []string `json:"target_audience"`
	Goal              []string `json:"goal"`
	ConsumerIdentity  []string `json:"consumer_identity"`
	LanguageSelection bool     `json:"language_selection"`
}

// DefaultEngagement returns the engagement block of the documented connector
// manifest (ConnectorAPI/getting-started.md).
func DefaultEngagement() Engagement {
	return Engagement{
		EntryPoint: []string{"section"},
		VisitorBehavior: []string{"visited_location", "time_on_location", "flow", "engaged_in_session",
			"about_to_abandon", "cart_value", "cart_items", "visitor_error", "viewed_products", "service_activity"},
		TargetAudience: []string{"external_referral", "search_keywords", "ip", "platform", "geo_location",
			"returning_visitors", "marketing_source", "customer_type", "age", "balance", "customer_id", "gender",
			"store_zip_code", "store_number", "company_size", "registration_date"},
		Goal:             []string{"url", "purchase_total", "num_of_pages", "lead", "service_activity"},
		ConsumerIdentity: []string{"auth"},
	}
}

// WebhookURL joins the server's public URL and WebhookPath.
func WebhookURL(publicURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(publicURL))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("public url %q: want an absolute http(s) URL such as https://connector.example.com", publicURL)
	}
	u.Path = strings.TrimRight(u.Path, "/") + WebhookPath
	return u.String(), nil
}

type manifest struct {
	ClientName   string       `json:"client_name"`
	DisplayName  string       `json:"display_name,omitempty"`
	Description  string       `json:"description,omitempty"`
	GrantTypes   []string     `json:"grant_types"`
	Scope        string       `json:"scope"`
	LogoURI      string       `json:"logo_uri"`
	Capabilities capabilities `json:"capabilities"`
}

type capabilities struct {
	Webhooks   webhooks   `json:"webhooks"`
	Engagement Engagement `json:"engagement"`
}

type webhooks struct {
	Content      webhook    `json:"ms.MessagingEventNotification.ContentEvent"`
	RichContent  webhook    `json:"ms.MessagingEventNotification.RichContentEvent"`
	AcceptStatus webhook    `json:"ms.MessagingEventNotification.AcceptStatusEvent"`
	ChatState    webhook    `json:"ms.MessagingEventNotification.ChatStateEvent"`
	ExConv       webhook    `json:"cqm.ExConversationChangeNotification"`
	Retry        *retention `json:"retry,omitempty"`
}

type webhook struct {
	Endpoint   string           `json:"endpoint"`
	MaxRetries *int             `json:"max_retries,omitempty"`
	Headers    []ManifestHeader `json:"headers,omitempty"`
}

type retention struct {
	RetentionTime int `json:"retention_time"`
}

// BuildManifest returns the App Installation Manifest a brand sends to
// LivePerson to register the connector, as indented JSON with a trailing
// newline. Every problem found is reported, not just the first.
func BuildManifest(p ManifestParams) ([]byte, error) {
	var errs []error
	name := strings.TrimSpace(p.ClientName)
	switch {
	case name == "":
		errs = append(errs, errors.New("client_name is required (liveengage.app_name)"))
	case utf8.RuneCountInString(name) > 128:
		errs = append(errs, fmt.Errorf("client_name is %d characters, at most 128 allowed", utf8.RuneCountInString(name)))
	}
	if n := utf8.RuneCountInString(p.Description); n > 256 {
		errs = append(errs, fmt.Errorf("description is %d characters, at most 256 allowed", n))
	}
	u, err := url.Parse(p.WebhookURL)
	switch {
	case p.WebhookURL == "":
		errs = append(errs, errors.New("webhook endpoint is required (server.public_url)"))
	case err != nil || u.Host == "":
		errs = append(errs, fmt.Errorf("webhook endpoint %q is not an absolute URL", p.WebhookURL))
	case u.Scheme != "https" && !(p.AllowInsecureWebhook && u.Scheme == "http"):
		errs = append(errs, fmt.Errorf("webhook endpoint %q must start with https:// (LiveEngage only calls TLS endpoints)", p.WebhookURL))
	}
	retention := &retention{RetentionTime: p.RetentionTime}
	switch {
	case p.RetentionTime == 0:
		retention.RetentionTime = DefaultRetentionTime
	case p.RetentionTime == -1:
		retention = nil
	case p.RetentionTime < 2 || p.RetentionTime > 259200:
		errs = append(errs, fmt.Errorf("retry retention_time %d s out of range 2..259200", p.RetentionTime))
	}
	if p.MaxRetries != nil && (*p.MaxRetries < 0 || *p.MaxRetries > 5) {
		errs = append(errs, fmt.Errorf("max_retries %d out of range 0..5", *p.MaxRetries))
	}
	for i, h := range p.Headers {
		if h.Name == "" {
			errs = append(errs, fmt.Errorf("webhook header %d has no name", i))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("liveperson manifest: %w", errors.Join(errs...))
	}
	wh := webhook{Endpoint: p.WebhookURL, MaxRetries: p.MaxRetries, Headers: p.Headers}
	eng := DefaultEngagement()
	if p.Engagement != nil {
		eng = *p.Engagement
	}
	m := manifest{
		ClientName:  name,
		DisplayName: p.DisplayName,
		Description: p.Description,
		GrantTypes:  []string{"client_credentials"},
		Scope:       "msg.consumer",
		LogoURI:     cmp.Or(p.LogoURI, TemplateLogoURI),
		Capabilities: capabilities{
			Webhooks:   webhooks{Content: wh, RichContent: wh, AcceptStatus: wh, ChatState: wh, ExConv: wh, Retry: retention},
			Engagement: eng,
		},
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("liveperson manifest: encode: %w", err)
	}
	return append(out, '\n'), nil
}
