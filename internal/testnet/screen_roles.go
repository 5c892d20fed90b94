package testnet

import (
	"net"
)

func init() {
	roles["tcp-hold-many"] = tcpHoldMany
}

// tcpHoldMany ADDR N: open N connections to ADDR, send one byte on each,
// and hold them all open until released: more rows than a screen shows.
func tcpHoldMany(args []string) error {
	n := atoi(args[1])
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte{1}); err != nil {
			return err
		}
	}
	ready(0)
	waitRelease()
	return nil
}
