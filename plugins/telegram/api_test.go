package telegram

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// Files come from the Bot API server only: a redirect elsewhere is not
// followed into the brand's network, and a file_path cannot leave /file/.
func TestDownloadsStayOnTheBotAPIServer(t *testing.T) {
	const token = "123:secret-token"
	var internalHits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		internalHits.Add(1)
		_, _ = w.Write([]byte("internal"))
	}))
	t.Cleanup(internal.Close)
	botAPIServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file/bot" + token + "/photos/file_1.jpg":
			_, _ = w.Write([]byte("jpeg"))
		case "/file/bot" + token + "/photos/moved.jpg":
			http.Redirect(w, r, internal.URL+"/admin", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(botAPIServer.Close)
	api, err := newBotAPI(botAPIServer.URL, token, http.DefaultClient, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if data, err := api.download(ctx, "photos/file_1.jpg"); err != nil || string(data) != "jpeg" {
		t.Fatalf("plain file: %q, %v", data, err)
	}
	if _, err := api.download(ctx, "photos/moved.jpg"); !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("redirect into the network: %v, want a refusal", err)
	}
	for _, p := range []string{"../../../admin", "https://evil.example/x", "//evil.example/x"} {
		_, err := api.download(ctx, p)
		if err == nil || !strings.Contains(err.Error(), "not a plain path") {
			t.Fatalf("file_path %q: %v, want a refusal", p, err)
		}
		if strings.Contains(err.Error(), token) {
			t.Fatalf("the error carries the token: %v", err)
		}
	}
	if n := internalHits.Load(); n != 0 {
		t.Fatalf("the internal server got %d requests", n)
	}
}
