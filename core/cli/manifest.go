package cli

import (
	"context"
	"io"
	"strings"

	"github.com/leconnect/leconnect/core/builtin"
	"github.com/leconnect/leconnect/core/config"
	"github.com/leconnect/leconnect/core/liveperson"
)

// manifestCommand prints the App Installation Manifest a brand sends to
// LivePerson to register its connector. Secrets are not needed for it.
func manifestCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("manifest", args, stderr)
	if err != nil {
		return err
	}
	cfg, _, err := config.Load(path, config.WithBuiltinAdapters(builtin.Names()...), config.WithUnsetVariablesAsWarnings())
	if err != nil {
		return err
	}
	webhook, err := liveperson.WebhookURL(cfg.Server.PublicURL)
	if err != nil {
		return cfg.Problem("server.public_url", err.Error())
	}
	out, err := liveperson.BuildManifest(liveperson.ManifestParams{
		ClientName:           cfg.LiveEngage.AppName,
		Description:          cfg.LiveEngage.AppDescription,
		LogoURI:              cfg.LiveEngage.AppLogoURI,
		WebhookURL:           webhook,
		AllowInsecureWebhook: strings.HasPrefix(cfg.Server.PublicURL, "http://"),
	})
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(out, '\n'))
	return err
}
