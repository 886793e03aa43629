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
	}
}
