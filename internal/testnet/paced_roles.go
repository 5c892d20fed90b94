package testnet

import (
	"io"
	"net"
	"time"
)

func init() {
	roles["tcp-paced"] = tcpPaced
	roles["tcp-paced-server"] = tcpPacedServer
}

// pacedLimit bounds how long a paced role sends: it stops by itself.
const pacedLimit = 2 * time.Minute

// tcpPaced ADDR RATE: connect, send RATE bytes a second (a tenth every
// 100 ms) and read whatever comes, until released (or pacedLimit), so the
// connection has a steady rate tick after tick.
func tcpPaced(args []string) error {
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	ready(c.LocalAddr().(*net.TCPAddr).Port)
	return pace(c, atoi(args[1]))
}

// tcpPacedServer ADDR RATE: accept one connection, send it RATE bytes a
// second and read whatever comes, until released (or pacedLimit).
func tcpPacedServer(args []string) error {
	c, err := acceptOne(args[0])
	if err != nil {
		return err
	}
	return pace(c, atoi(args[1]))
}

// pace sends rate bytes a second on c, reads what c receives, and closes
// c when the test releases the role or pacedLimit has passed.
func pace(c net.Conn, rate int) error {
	defer c.Close()
	go func() { _, _ = io.Copy(io.Discard, c) }()
	released := make(chan struct{})
	go func() { waitRelease(); close(released) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(pacedLimit)
	chunk := make([]byte, rate/10)
	for {
		select {
		case <-released:
			return nil
		case <-limit:
			return nil
		case <-tick.C:
			if len(chunk) > 0 {
				if _, err := c.Write(chunk); err != nil {
					return err
				}
			}
		}
	}
}
