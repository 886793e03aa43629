// Package server is the daemon's one HTTP listener:
//
//	POST /webhooks/liveperson        LiveEngage notifications (handler supplied by the engine)
//	ANY  /channels/{channel}/webhook platform webhooks, forwarded raw to the channel's adapter
//	GET  /healthz                    the process is up
//	GET  /readyz                     every readiness check passes (store, LiveEngage token, adapters)
//	GET  /metrics                    Prometheus metrics
//
// Every request body is bounded (413 beyond the limit); timeouts are set on
// the listener; TLS 1.2+ is served when a certificate is configured. Start
// reading at [New].
package server
