package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener keeps at most max connections open. One past the cap is
// accepted and answered 503 with Retry-After at once (closed without a
// word on TLS, where plain text cannot be sent), rather than left waiting
// in the kernel's backlog, where health checks would wait behind it.
type limitListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	tls     bool
	refused func()
}

// busyResponse is what a connection past the cap reads.
const busyResponse = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nContent-Length: 29\r\n\r\ntoo many connections, retry\n"

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			if l.refused != nil {
				l.refused()
			}
			go l.turnAway(c)
			continue
		}
		return &countedConn{Conn: c, l: l}, nil
	}
}

func (l *limitListener) turnAway(c net.Conn) {
	defer c.Close()
	if l.tls {
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(busyResponse))
}

// countedConn gives its slot back once, however often it is closed.
type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
