package testnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func init() {
	roles["dns-server"] = dnsServer
	roles["dns-flood"] = dnsFlood
	roles["dns-plant"] = dnsPlant
}

// FloodAddr is the address dns-server gives the name "hN.flood.test":
// 10.N>>16.N>>8.N, one per N, so a flood fills a cache with N entries.
func FloodAddr(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// dnsServer ADDR TTL [NAME=IP...]: a DNS server on UDP ADDR, and on TCP
// at the same address and port (length-prefixed, RFC 1035 4.2.2), that answers
// an A question for NAME with IP, for hN.flood.test with FloodAddr(N), an
// AAAA question for a known name with no records (as a server with only
// IPv4 does), and anything else with NXDOMAIN, every answer with TTL
// seconds. It serves until killed.
func dnsServer(args []string) error {
	table := map[string]netip.Addr{}
	for _, kv := range args[2:] {
		name, ip, _ := strings.Cut(kv, "=")
		table[strings.ToLower(name)+"."] = netip.MustParseAddr(ip)
	}
	ttl := uint32(atoi(args[1]))
	c, err := net.ListenPacket("udp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	host, _, _ := net.SplitHostPort(args[0])
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer ln.Close()
	go serveDNSOverTCP(ln, table, ttl)
	ready(port)
	buf := make([]byte, 1500)
	for {
		n, peer, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		out, err := dnsAnswer(buf[:n], table, ttl)
		if err != nil {
			continue // not a question: no answer
		}
		if _, err := c.WriteTo(out, peer); err != nil {
			return err
		}
	}
}

// serveDNSOverTCP answers the questions of each connection, each answer
// with its length in one write (so in one segment: tcptop reads whole
// messages of a segment only), until the listener closes.
func serveDNSOverTCP(ln net.Listener, table map[string]netip.Addr, ttl uint32) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				var n [2]byte
				if _, err := io.ReadFull(c, n[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(n[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				out, err := dnsAnswer(q, table, ttl)
				if err != nil {
					return
				}
				if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...)); err != nil {
					return
				}
			}
		}()
	}
}

// dnsAnswer builds the answer to one question.
func dnsAnswer(q []byte, table map[string]netip.Addr, ttl uint32) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil || h.Response {
		return nil, errors.New("not a question")
	}
	question, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(question.Name.String())
	ip, known := table[name]
	if i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "h"), ".flood.test.")); err == nil && !known {
		ip, known = FloodAddr(i), true
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true, Authoritative: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(question); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if known && question.Type == dnsmessage.TypeA {
		rr := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: ttl}
		if err := b.AResource(rr, dnsmessage.AResource{A: ip.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// dnsFlood SERVER N RATE: ask SERVER (UDP) for h0.flood.test up to
// h(N-1).flood.test, RATE questions a second, each on the same socket,
// reading every answer; prints "ready 0" when done and waits for release.
func dnsFlood(args []string) error {
	c, err := net.Dial("udp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	n, rate := atoi(args[1]), atoi(args[2])
	start := time.Now()
	buf := make([]byte, 1500)
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		q, err := dnsQuestion(uint16(i), fmt.Sprintf("h%d.flood.test.", i))
		if err != nil {
			return err
		}
		if _, err := c.Write(q); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil {
			return fmt.Errorf("answer %d: %w", i, err)
		}
	}
	ready(0)
	waitRelease()
	return nil
}

// dnsQuestion builds an A question for name.
func dnsQuestion(id uint16, name string) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// dnsPlant MODE NAME IP: the audit's forged answer (a17): from a socket
// bound to 127.0.0.1:53, one answer naming IP with NAME (labels split at
// dots, any bytes in them) to a UDP socket on 127.0.0.1:39200 that reads
// it. MODE "unasked": that socket is not connected (it asked nothing);
// "connected": it is connected to 127.0.0.1:53, as glibc's resolver's
// is; "sendto": it is not connected, and sent its question to
// 127.0.0.1:53 with sendto first, as musl's resolver does (the answer
// goes out once the question came in); "asked-other": it is not
// connected and sent its question to another resolver, 127.0.0.2:53
// (nobody there), so the answer from 127.0.0.1:53 is not the one it
// asked for. Prints "ready 0" once the answer was read, and waits for
// release.
func dnsPlant(args []string) error {
	spoof, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		return err
	}
	defer spoof.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 39200}
	var victim *net.UDPConn
	if args[0] == "connected" {
		victim, err = net.DialUDP("udp", to, spoof.LocalAddr().(*net.UDPAddr))
	} else {
		victim, err = net.ListenUDP("udp", to)
	}
	if err != nil {
		return err
	}
	defer victim.Close()
	if err := askUnconnected(args[0], victim, spoof, args[1]); err != nil {
		return err
	}
	if _, err := spoof.WriteTo(plantedAnswer(args[1], netip.MustParseAddr(args[2])), to); err != nil {
		return err
	}
	_ = victim.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, _, err := victim.ReadFrom(make([]byte, 1500)); err != nil {
		return err
	}
	ready(0)
	waitRelease()
	return nil
}

// askUnconnected sends dnsPlant's question with sendto from the
// unconnected victim, in modes "sendto" (to the answering socket, which
// reads it) and "asked-other" (to 127.0.0.2:53); other modes ask nothing.
func askUnconnected(mode string, victim *net.UDPConn, server net.PacketConn, name string) error {
	if mode != "sendto" && mode != "asked-other" {
		return nil
	}
	q, err := dnsQuestion(0x4242, name+".")
	if err != nil {
		return err
	}
	dst := server.LocalAddr().(*net.UDPAddr)
	if mode == "asked-other" {
		dst = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 53}
	}
	if _, err := victim.WriteTo(q, dst); err != nil {
		return err
	}
	if mode == "asked-other" {
		return nil
	}
	_ = server.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _, err = server.ReadFrom(make([]byte, 1500))
	return err
}

// plantedAnswer is the forged message, put together byte by byte as the
// audit's script did (dnsmessage's builder would refuse some of the
// names a forger sends): ID 0x4242, one question, one A record.
func plantedAnswer(name string, ip netip.Addr) []byte {
	var q []byte
	for _, l := range strings.Split(name, ".") {
		q = append(append(q, byte(len(l))), l...)
	}
	q = append(q, 0, 0, 1, 0, 1) // end of name, type A, class IN
	msg := []byte{0x42, 0x42, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}
	msg = append(msg, q...)
	msg = append(msg, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4) // the question's name, A, IN, TTL 300
	a := ip.As4()
	return append(msg, a[:]...)
}
