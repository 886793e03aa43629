package liveperson

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// shape flattens JSON into path → kind ("string", "bool", "number",
// "array", "object"); array elements are walked as "path[]".
func shape(v any, path string, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		out[path] = "object"
		for k, e := range x {
			shape(e, strings.TrimPrefix(path+"."+k, "."), out)
		}
	case []any:
		out[path] = "array"
		for _, e := range x {
			shape(e, path+"[]", out)
		}
	case string:
		out[path] = "string"
	case bool:
		out[path] = "bool"
	case float64:
		out[path] = "number"
	default:
		out[path] = "null"
	}
}

func jsonShape(t *testing.T, b []byte) (map[string]string, map[string]any) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, b)
	}
	out := map[string]string{}
	shape(v, "", out)
	return out, v
}

// exampleManifestParams reads the keys BuildManifest needs from the
// repository's connector.yaml.example, the way the lead's `leconnect
// manifest` command does.
func exampleManifestParams(t *testing.T) ManifestParams {
	t.Helper()
	raw, err := os.ReadFile("../../connector.yaml.example")
	if err != nil {
		t.Fatalf("read connector.yaml.example: %v", err)
	}
	var cfg struct {
		Server struct {
			PublicURL string `yaml:"public_url"`
		} `yaml:"server"`
		LiveEngage struct {
			AppName        string `yaml:"app_name"`
			AppDescription string `yaml:"app_description"`
		} `yaml:"liveengage"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("parse connector.yaml.example: %v", err)
	}
	hook, err := WebhookURL(cfg.Server.PublicURL)
	if err != nil {
		t.Fatal(err)
	}
	return ManifestParams{ClientName: cfg.LiveEngage.AppName, Description: cfg.LiveEngage.AppDescription, WebhookURL: hook}
}

func TestManifestForExampleConfigHasDocumentedShape(t *testing.T) {
	p := exampleManifestParams(t) // no logo: the template's is the default
	got, err := BuildManifest(p)
	if err != nil {
		t.Fatalf("BuildManifest: %v", err)
	}
	gotShape, gotV := jsonShape(t, got)

	// The documented connector manifest, minus the per-webhook max_retries
	// (we use TTL retries, §6.8 B), plus the retry block of the TTL sample.
	wantShape, wantV := jsonShape(t, readTestdata(t, "app-install-manifest-connector.json"))
	for k := range wantShape {
		if strings.HasSuffix(k, ".max_retries") {
			delete(wantShape, k)
		}
	}
	ttlShape, _ := jsonShape(t, readTestdata(t, "app-install-manifest-retry-ttl.json"))
	for k, v := range ttlShape {
		if strings.HasPrefix(k, "capabilities.webhooks.retry") {
			wantShape[k] = v
		}
	}
	if !reflect.DeepEqual(gotShape, wantShape) {
		var diff []string
		for k, v := range wantShape {
			if gotShape[k] != v {
				diff = append(diff, "want "+k+": "+v+", got "+gotShape[k])
			}
		}
		for k, v := range gotShape {
			if _, ok := wantShape[k]; !ok {
				diff = append(diff, "unexpected "+k+": "+v)
			}
		}
		sort.Strings(diff)
		t.Fatalf("manifest shape differs from the documented one:\n%s\n%s", strings.Join(diff, "\n"), got)
	}

	caps := gotV["capabilities"].(map[string]any)
	hooks := caps["webhooks"].(map[string]any)
	for _, typ := range WebhookTypes {
		if ep := hooks[typ].(map[string]any)["endpoint"]; ep != "https://connector.example.com/webhooks/liveperson" {
			t.Errorf("%s endpoint = %v", typ, ep)
		}
	}
	if rt := hooks["retry"].(map[string]any)["retention_time"]; rt != float64(DefaultRetentionTime) {
		t.Errorf("retention_time = %v", rt)
	}
	wantEng := wantV["capabilities"].(map[string]any)["engagement"]
	if !reflect.DeepEqual(caps["engagement"], wantEng) {
		t.Errorf("engagement = %v, want the documented defaults %v", caps["engagement"], wantEng)
	}
	for k, want := range map[string]any{"client_name": "leconnect", "description": "LiveEngage connector powered by leconnect", "scope": "msg.consumer"} {
		if gotV[k] != want {
			t.Errorf("%s = %v, want %v", k, gotV[k], want)
		}
	}
	if gt := gotV["grant_types"].([]any); len(gt) != 1 || gt[0] != "client_credentials" {
		t.Errorf("grant_types = %v", gt)
	}
}

func TestManifestOptions(t *testing.T) {
	three := 3
	got, err := BuildManifest(ManifestParams{
		ClientName: "acme", WebhookURL: "https://x.example/webhooks/liveperson", MaxRetries: &three,
		Headers: []ManifestHeader{{"NAME", "VALUE"}}, RetentionTime: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	gotShape, _ := jsonShape(t, got)
	headersShape, _ := jsonShape(t, readTestdata(t, "app-install-manifest-webhooks-headers.json"))
	for _, k := range []string{
		"capabilities.webhooks.ms.MessagingEventNotification.ContentEvent.headers[].header_name",
		"capabilities.webhooks.ms.MessagingEventNotification.ContentEvent.max_retries",
	} {
		if gotShape[k] == "" || gotShape[k] != headersShape[k] {
			t.Errorf("%s: got %q, documented %q", k, gotShape[k], headersShape[k])
		}
	}
	if _, ok := gotShape["capabilities.webhooks.retry"]; ok {
		t.Errorf("retry block present with RetentionTime -1")
	}
}

func TestManifestValidation(t *testing.T) {
	bad := 9
	tests := []struct {
		name string
		p    ManifestParams
		want string
	}{
		{"no name", ManifestParams{WebhookURL: "https://x/webhooks/liveperson"}, "client_name is required"},
		{"long name", ManifestParams{ClientName: strings.Repeat("n", 129), WebhookURL: "https://x/w"}, "at most 128"},
		{"long description", ManifestParams{ClientName: "n", Description: strings.Repeat("d", 257), WebhookURL: "https://x/w"}, "at most 256"},
		{"http endpoint", ManifestParams{ClientName: "n", WebhookURL: "http://127.0.0.1:8080/webhooks/liveperson"}, "must start with https://"},
		{"retention out of range", ManifestParams{ClientName: "n", WebhookURL: "https://x/w", RetentionTime: 300000}, "retention_time"},
		{"max retries out of range", ManifestParams{ClientName: "n", WebhookURL: "https://x/w", MaxRetries: &bad}, "max_retries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BuildManifest(tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := BuildManifest(ManifestParams{ClientName: "n", WebhookURL: "http://127.0.0.1/webhooks/liveperson", AllowInsecureWebhook: true}); err != nil {
		t.Errorf("AllowInsecureWebhook: %v", err)
	}
	if _, err := WebhookURL("ftp://x"); err == nil {
		t.Errorf("WebhookURL accepted ftp")
	}
	if u, _ := WebhookURL("https://x.example/base/"); u != "https://x.example/base/webhooks/liveperson" {
		t.Errorf("WebhookURL = %s", u)
	}
}
