package testnet

import (
	"bytes"
	"net"
)

func init() {
	roles["udp-spray"] = udpSpray
}

// udpSpray ADDR BASEPORT N SIZE: from one unconnected socket, send one
// datagram of SIZE bytes to each of N ports of ADDR from BASEPORT on (a
// flow per peer: N flows with N remote ports), then hold until released.
func udpSpray(args []string) error {
	pc, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return err
	}
	defer pc.Close()
	ready(pc.LocalAddr().(*net.UDPAddr).Port)
	ip := net.ParseIP(args[0])
	payload := bytes.Repeat([]byte{'s'}, atoi(args[3]))
	for p := atoi(args[1]); p < atoi(args[1])+atoi(args[2]); p++ {
		if _, err := pc.WriteToUDP(payload, &net.UDPAddr{IP: ip, Port: p}); err != nil {
			return err
		}
	}
	waitRelease()
	return nil
}
