package adaptertest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest"
	"github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo"
)

// The echo adapter is written only against plugins/sdk, like a third party's.
func TestEchoAdapterConforms(t *testing.T) {
	adaptertest.Run(t, func() sdk.Adapter { return echo.New() }, adaptertest.Options{
		Config:  []byte(`{"token":"s3cret"}`),
		Address: sdk.Address{ChatID: "chat-1"},
		Inbound: func(ctx context.Context, webhookURL, text string) error {
			body := fmt.Sprintf(`{"id":"in-1","user":"u1","chat":"chat-1","text":%q}`, text)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, strings.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("X-Echo-Token", "s3cret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("webhook answered %s", resp.Status)
			}
			return nil
		},
	})
}
