package daemon

import (
	"path/filepath"

	"github.com/leconnect/leconnect/core/config"
	"github.com/leconnect/leconnect/core/pluginhost"
)

// ChannelSpec is how the host runs a configured channel's adapter.
func ChannelSpec(cfg *config.Config, ch config.Channel) pluginhost.Spec {
	return pluginhost.Spec{
		Channel:    ch.Name,
		Adapter:    ch.Adapter,
		Path:       ch.Path,
		SHA256:     ch.SHA256,
		ConfigJSON: ch.Config.JSON(),
		LogLevel:   cfg.Log.Level,
		// Beside the store: the SDK's send journal lives there.
		StateDir: filepath.Join(filepath.Dir(cfg.Store.Path), "adapter-state", ch.Name),
		Restart: pluginhost.RestartPolicy{
			MaxCrashes:     ch.Restart.MaxCrashes,
			Window:         ch.Restart.Window,
			InitialBackoff: ch.Restart.InitialBackoff,
			MaxBackoff:     ch.Restart.MaxBackoff,
		},
		Timeouts: pluginhost.Timeouts{
			Describe: ch.Timeouts.Describe, Configure: ch.Timeouts.Configure, Start: ch.Timeouts.Start,
			Webhook: ch.Timeouts.Webhook, Send: ch.Timeouts.Send, Typing: ch.Timeouts.Typing,
			MarkRead: ch.Timeouts.MarkRead, Health: ch.Timeouts.Health, Close: ch.Timeouts.Close,
			HealthInterval: ch.Timeouts.HealthInterval, MaxMissed: ch.Timeouts.MaxMissed,
		},
		Limits: pluginhost.Limits{
			MaxTextChars: ch.Limits.MaxTextChars, MaxMediaBytes: ch.Limits.MaxMediaBytes,
			MaxBatchEvents: ch.Limits.MaxBatchEvents, MaxInFlightBytes: ch.Limits.MaxInFlightBytes,
			LogLinesPerSecond: ch.Limits.LogLinesPerSecond,
		},
		SkipInDoubt: ch.InDoubtSends == "skip",
	}
}
