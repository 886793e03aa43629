package liveengage

import (
	"encoding/json"
	"fmt"
	"time"
)

// manifest is the part of an App Install Manifest (or of an installed app
// object) the emulator uses (reference §7).
type manifest struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Capabilities struct {
		Webhooks map[string]json.RawMessage `json:"webhooks"`
	} `json:"capabilities"`
}

// ApplyManifest configures the app installation from an App Install
// Manifest or an installed app object: capabilities.webhooks entries
// (endpoint, max_retries, headers), capabilities.webhooks.retry.retention_time
// and, when present, client_id / client_secret. Endpoints replace WebhookURL
// for the types they name; other types keep using WebhookURL.
func (o *Options) ApplyManifest(data []byte) error {
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("app install manifest: %w", err)
	}
	if m.ClientID != "" {
		o.ClientID = m.ClientID
	}
	if m.ClientSecret != "" {
		o.ClientSecret = m.ClientSecret
	}
	for key, raw := range m.Capabilities.Webhooks {
		if key == "retry" {
			var r struct {
				RetentionTime *int64 `json:"retention_time"`
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("app install manifest: retry: %w", err)
			}
			if r.RetentionTime != nil {
				// 0 (DEMO's default for new apps) means count mode.
				o.RetentionTime = time.Duration(*r.RetentionTime) * time.Second
			}
			continue
		}
		if !isNotificationType(key) {
			return fmt.Errorf("app install manifest: unknown webhook type %q", key)
		}
		var ep WebhookEndpoint
		if err := json.Unmarshal(raw, &ep); err != nil {
			return fmt.Errorf("app install manifest: webhook %s: %w", key, err)
		}
		// An unset max_retries stays nil: it then means Options.MaxRetries
		// (0 by default: drop at once in count mode), and, unlike an explicit
		// 0, it does not exempt the webhook from TTL mode (§6.8).
		if o.Webhooks == nil {
			o.Webhooks = map[string]WebhookEndpoint{}
		}
		o.Webhooks[key] = ep
	}
	return nil
}
