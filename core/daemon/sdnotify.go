package daemon

import (
	"net"
	"os"
)

// notifySystemd tells systemd how the service stands when it runs under
// Type=notify (systemd sets NOTIFY_SOCKET): "READY=1" once serving,
// "RELOADING=1" during a SIGHUP reload, "STOPPING=1" at shutdown. Elsewhere
// it does nothing. The protocol is one datagram per state on a Unix socket
// (sd_notify(3)); a name starting with @ is in the abstract namespace.
func notifySystemd(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
