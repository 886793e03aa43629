package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// botAPI is a small client for the Bot API: JSON calls, multipart uploads
// and file downloads. The token sits in every URL, so transport errors are
// redacted before they leave this file.
type botAPI struct {
	base    string // e.g. https://api.telegram.org
	token   string
	http    *http.Client
	files   *safehttp.Downloader
	timeout time.Duration // per call; getUpdates adds its long-poll timeout
}

// newBotAPI returns a client for base. Files are downloaded from base
// only, whatever file_path getFile answers, and no redirect leaves it.
func newBotAPI(base, token string, client *http.Client, timeout time.Duration) (*botAPI, error) {
	files, err := safehttp.New(safehttp.Policy{
		Hosts: []string{"api.telegram.org"}, Trusted: safehttp.Origins(base),
		MaxBytes: maxDownload, Timeout: timeout, MaxRedirects: 1,
	})
	if err != nil {
		return nil, err
	}
	return &botAPI{base: base, token: token, http: client, files: files, timeout: timeout}, nil
}

// APIError is an error answer of the Bot API:
// {"ok":false,"error_code":N,"description":"...","parameters":{...}}.
type APIError struct {
	Method          string
	Code            int // equals the HTTP status
	Description     string
	RetryAfter      time.Duration // parameters.retry_after (429)
	MigrateToChatID int64         // parameters.migrate_to_chat_id (400)
}

func (e *APIError) Error() string {
	return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
}

// response is the Bot API envelope.
type response struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// call invokes method with params encoded as JSON and decodes the result
// into out (which may be nil).
func (c *botAPI) call(ctx context.Context, method string, params any, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: encode parameters: %w", method, err)
	}
	return c.post(ctx, method, "application/json", body, c.timeout, out)
}

// upload invokes method as multipart/form-data with fields and one file.
func (c *botAPI) upload(ctx context.Context, method string, fields map[string]string, fileField string, m *sdk.Media, out any) error {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			return fmt.Errorf("telegram %s: build form: %w", method, err)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, fileField, sanitizeFileName(m.FileName)))
	ct := m.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	part, err := w.CreatePart(h)
	if err == nil {
		_, err = part.Write(m.Data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return fmt.Errorf("telegram %s: build form: %w", method, err)
	}
	return c.post(ctx, method, w.FormDataContentType(), buf.Bytes(), c.timeout, out)
}

func sanitizeFileName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r == '\r' || r == '\n' {
			return '_'
		}
		return r
	}, name)
	if name == "" {
		return "file"
	}
	return name
}

func (c *botAPI) post(ctx context.Context, method, contentType string, body []byte, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/bot"+c.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, c.redact(err))
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, c.redact(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("telegram %s: read response: %w", method, c.redact(err))
	}
	var env response
	if err := json.Unmarshal(raw, &env); err != nil || (!env.OK && env.ErrorCode == 0) {
		// Not a Bot API answer (a proxy's 502 page, say): transient.
		return fmt.Errorf("telegram %s: unexpected HTTP %d answer", method, resp.StatusCode)
	}
	if !env.OK {
		e := &APIError{Method: method, Code: env.ErrorCode, Description: env.Description}
		if p := env.Parameters; p != nil {
			e.RetryAfter = time.Duration(p.RetryAfter) * time.Second
			e.MigrateToChatID = p.MigrateToChatID
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("telegram %s: decode result: %w", method, err)
		}
	}
	return nil
}

// maxDownload is the Bot API's download limit for bots (20 MB).
const maxDownload = 20 << 20

// download fetches /file/bot<token>/<path>. The path comes from getFile;
// an escape from /file/ is refused rather than sent with the token.
func (c *botAPI) download(ctx context.Context, path string) ([]byte, error) {
	rel, err := url.Parse(path)
	if err != nil || rel.Scheme != "" || rel.Host != "" || slices.Contains(strings.Split(path, "/"), "..") {
		return nil, fmt.Errorf("telegram file download: file_path %q is not a plain path", path)
	}
	f, err := c.files.Get(ctx, c.base+"/file/bot"+c.token+"/"+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		return nil, fmt.Errorf("telegram file download: %w", c.redact(err))
	}
	return f.Data, nil
}

// redact removes the bot token from an error: net/http puts the full URL,
// token included, into *url.Error.
func (c *botAPI) redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: strings.ReplaceAll(ue.URL, c.token, "<token>"), Err: ue.Err}
	}
	if c.token != "" && strings.Contains(err.Error(), c.token) {
		return errors.New(strings.ReplaceAll(err.Error(), c.token, "<token>"))
	}
	return err
}

// classify turns a Bot API failure into the SDK's error vocabulary, the
// one place where Telegram's rules (channels.md §1.2) meet the core's:
//   - 429: retry after parameters.retry_after.
//   - 403 (blocked, deactivated, kicked): permanent.
//   - 400: permanent (the request itself is wrong; a retry cannot help).
//   - 401 / 404: the token is wrong or revoked: not connected, so the core
//     keeps the message and retries once an operator fixed the token.
//   - anything else (5xx, 409, network): transient.
func classify(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case ae.Code == http.StatusTooManyRequests:
		d := ae.RetryAfter
		if d <= 0 {
			d = time.Second
		}
		return sdk.RetryAfter(d, err)
	case ae.Code == http.StatusForbidden:
		return sdk.Permanent(err)
	case ae.Code == http.StatusBadRequest && ae.MigrateToChatID != 0:
		return sdk.Permanent(fmt.Errorf("%w; the group is now supergroup %d", err, ae.MigrateToChatID))
	case ae.Code == http.StatusBadRequest:
		return sdk.Permanent(err)
	case ae.Code == http.StatusUnauthorized || ae.Code == http.StatusNotFound:
		return sdk.NotConnected(fmt.Errorf("%w; check bot_token", err))
	}
	return err
}

// isBlocked reports a 403 meaning the user will not receive anything more
// from the bot until they restart it.
func isBlocked(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != http.StatusForbidden {
		return false
	}
	d := strings.ToLower(ae.Description)
	return strings.Contains(d, "blocked by the user") || strings.Contains(d, "user is deactivated")
}
