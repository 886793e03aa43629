package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// webAPI is a small Web API client (channels.md §2.6): the token always in
// the Authorization header, ok checked rather than the HTTP status, 429
// turned into a RetryAfter.
type webAPI struct {
	base    string
	token   string // bot token
	http    *http.Client
	files   *safehttp.Downloader // consumers' files, from URLs in events
	timeout time.Duration
	limits  *limiter
}

// APIError is an ok:false answer, or a 429.
type APIError struct {
	Method     string
	Code       string        // Slack's error, e.g. channel_not_found
	Status     int           // HTTP status
	RetryAfter time.Duration // from Retry-After on 429
}

func (e *APIError) Error() string {
	return fmt.Sprintf("slack %s: %s", e.Method, e.Code)
}

// envelope is what every Web API answer has (§2.6).
type envelope struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Warning string `json:"warning"`
}

// callJSON POSTs params as JSON (for write methods such as chat.postMessage).
func (c *webAPI) callJSON(ctx context.Context, method string, params any, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("slack %s: encode: %w", method, err)
	}
	return c.do(ctx, method, c.token, "application/json; charset=utf-8", body, out)
}

// callForm POSTs params form-encoded (files.*, as the documented flow does).
func (c *webAPI) callForm(ctx context.Context, method, token string, params url.Values, out any) error {
	return c.do(ctx, method, token, "application/x-www-form-urlencoded", []byte(params.Encode()), out)
}

func (c *webAPI) do(ctx context.Context, method, token, contentType string, body []byte, out any) error {
	if err := c.limits.wait(ctx, method, ""); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("slack %s: %w", method, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("slack %s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("slack %s: read response: %w", method, err)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &APIError{Method: method, Code: "ratelimited", Status: resp.StatusCode, RetryAfter: time.Duration(max(secs, 1)) * time.Second}
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		// Not a Web API answer (a proxy's 502 page, say): transient.
		return fmt.Errorf("slack %s: unexpected HTTP %d answer", method, resp.StatusCode)
	}
	if !env.OK {
		return &APIError{Method: method, Code: env.Error, Status: resp.StatusCode}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("slack %s: decode: %w", method, err)
		}
	}
	return nil
}

// errorReasons are the ok:false errors that retrying cannot fix, with what
// an operator should do (chat.postMessage's list, §2.7, and the upload flow).
var errorReasons = map[string]string{
	"channel_not_found":      "the channel does not exist or the app cannot see it; check the channel id, or invite the app",
	"not_in_channel":         "the app is not a member of the channel; invite it (or grant chat:write.public for public channels)",
	"is_archived":            "the channel is archived",
	"msg_too_long":           "the message text is too long",
	"no_text":                "the message had no text",
	"invalid_blocks":         "Slack refused the Block Kit blocks",
	"too_many_attachments":   "too many attachments",
	"invalid_auth":           "Slack refused bot_token (invalid_auth); check the token",
	"not_authed":             "no token reached Slack (not_authed); check bot_token",
	"token_revoked":          "bot_token was revoked; reinstall the app and update the token",
	"account_inactive":       "the token's user or workspace is deactivated",
	"missing_scope":          "the token lacks a scope the method needs (chat:write, files:write, files:read)",
	"restricted_action":      "a workspace preference forbids the app to post here",
	"message_limit_exceeded": "the workspace's message limit is exceeded",
	"thread_not_found":       "the thread to reply in does not exist",
	"missing_argument":       "a required argument was missing (empty file?)",
	"invalid_arguments":      "Slack refused the arguments",
	"invalid_json":           "Slack could not parse the request",
	"json_not_object":        "Slack could not parse the request",
	"file_not_found":         "the uploaded file was not found",
	"not_allowed_token_type": "the token type is wrong for this method",
	"channel_is_archived":    "the channel is archived",
}

// transientErrors are ok:false errors worth retrying with the core's backoff.
var transientErrors = map[string]bool{
	"internal_error": true, "fatal_error": true, "service_unavailable": true, "request_timeout": true,
	"ratelimited": true, "rate_limited": true, "team_added_to_org": true,
}

// classify turns a Web API failure into the SDK's vocabulary, the one place
// where Slack's errors meet the core's:
//   - HTTP 429 (ratelimited): retry after Retry-After.
//   - rate_limited (HTTP 200; the app posted too much): retry after a minute.
//   - known request or credential errors (channel_not_found, not_in_channel,
//     invalid_auth ...): permanent, with a reason an operator can act on.
//   - internal_error, fatal_error, service_unavailable, request_timeout:
//     transient.
//   - any other ok:false error: permanent (Slack's errors describe the
//     request; retrying the same request gets the same answer).
//   - network failures and non-Slack answers: transient.
func classify(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case ae.Status == http.StatusTooManyRequests:
		return sdk.RetryAfter(ae.RetryAfter, err)
	case ae.Code == "rate_limited":
		return sdk.RetryAfter(time.Minute, err)
	case transientErrors[ae.Code]:
		return err
	case errorReasons[ae.Code] != "":
		return sdk.Permanent(fmt.Errorf("%w: %s", err, errorReasons[ae.Code]))
	}
	return sdk.Permanent(fmt.Errorf("%w: Slack refused the request", err))
}

// download fetches a file's url_private(_download) within the channel's
// download policy, with the bot token (§2.4 "Downloading"). The token is
// only sent to Slack's own hosts or the host of api_base_url, never to
// another host the policy allows.
func (c *webAPI) download(ctx context.Context, rawURL string) ([]byte, string, error) {
	f, err := c.files.Get(ctx, rawURL, func(req *http.Request) {
		if c.trusted(req.URL) {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("slack file download: %w", err)
	}
	if strings.HasPrefix(f.ContentType, "text/html") {
		// Slack answers a request without a valid token with its login page.
		return nil, "", errors.New("slack file download: got an HTML page instead of the file; does the token have files:read?")
	}
	return f.Data, f.ContentType, nil
}

func (c *webAPI) trusted(u *url.URL) bool {
	if u.Scheme != "https" && u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if u.Scheme == "https" && (host == "slack.com" || strings.HasSuffix(host, ".slack.com")) {
		return true
	}
	base, err := url.Parse(c.base)
	return err == nil && base.Host == u.Host && base.Scheme == u.Scheme
}
