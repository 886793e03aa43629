package liveengage

import (
	"embed"
	"io/fs"
	"net/http"
)

// The agent workspace: plain HTML, JS and CSS, no build step, so it works
// offline. The demo page loads workspace.js and workspace.css from here too.
//
//go:embed workspace
var workspaceFiles embed.FS

// WorkspaceFS returns the agent workspace's files (index.html,
// workspace.js, workspace.css), as served under /emulator/.
func WorkspaceFS() fs.FS {
	sub, err := fs.Sub(workspaceFiles, "workspace")
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}

// workspaceHandler serves the agent workspace at /emulator/: it follows the
// SSE stream of /emulator/api/events and acts through /emulator/api/.
func workspaceHandler() http.Handler {
	files := http.StripPrefix("/emulator/", http.FileServerFS(WorkspaceFS()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page must follow a rebuilt emulator, never a cached copy.
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
