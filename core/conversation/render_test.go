package conversation

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// downloadLE answers DownloadFile with a fixed result.
type downloadLE struct {
	fakeLE
	file liveperson.DownloadedFile
	err  error
}

func (f *downloadLE) DownloadFile(context.Context, liveperson.Conversation, string) (liveperson.DownloadedFile, error) {
	return f.file, f.err
}

// An agent's file the download guard refused reaches the consumer as its
// caption and a note, at once; an outage is retried; a file is sent.
func TestAgentFileRendering(t *testing.T) {
	ev := &liveperson.ContentEvent{ContentType: "hosted/file",
		File: &liveperson.HostedFile{Caption: "the invoice", FileType: "PNG", RelativePath: "/v1/AUTH_x/f.PNG"}}
	caps := sdk.Capabilities{MediaKinds: []sdk.MediaKind{sdk.MediaImage}}
	for _, tc := range []struct {
		name      string
		le        *downloadLE
		outcome   outcome
		text      string
		withMedia bool
	}{
		{"refused", &downloadLE{err: fmt.Errorf("download: %w: address 10.0.0.8 is private", safehttp.ErrRefused)},
			outcomeDone, "the invoice\n[the agent sent a file that could not be fetched]", false},
		{"outage", &downloadLE{err: &liveperson.APIError{Op: "download_file", Kind: liveperson.ErrUnavailable}},
			outcomeRetry, "", false},
		{"fetched", &downloadLE{file: liveperson.DownloadedFile{Data: []byte("png"), ContentType: "image/png"}},
			outcomeDone, "the invoice", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &delivery{e: &Engine{opts: Options{LiveEngage: tc.le}, log: hclog.NewNullLogger()}, conversationID: "conv-1"}
			msg, r := d.renderContent(context.Background(), caps, ev, nil)
			if r.outcome != tc.outcome {
				t.Fatalf("outcome %v (%v), want %v", r.outcome, r.err, tc.outcome)
			}
			if tc.outcome == outcomeRetry {
				return
			}
			if msg.Text != tc.text || (msg.Media != nil) != tc.withMedia {
				t.Fatalf("message %+v", msg)
			}
			if tc.withMedia && (string(msg.Media.Data) != "png" || msg.Media.Kind != sdk.MediaImage) {
				t.Fatalf("media %+v", msg.Media)
			}
		})
	}
}
