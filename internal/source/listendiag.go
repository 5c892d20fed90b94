package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// The sock_diag request and reply of listeners (include/uapi/linux/
// inet_diag.h), read and written by hand: vishvananda/netlink's dump asks
// for every state and no memory information, and cannot be kept open in
// another network namespace.
const (
	diagReqLen       = 56 // struct inet_diag_req_v2
	diagMsgLen       = 72 // struct inet_diag_msg
	tcpListen        = 10 // TCP_LISTEN
	tcpSynRecv       = 3  // TCP_SYN_RECV: the kernel adds TCP_NEW_SYN_RECV, its request sockets
	diagSkMem        = 7  // INET_DIAG_SKMEMINFO
	skMemDrops       = 8  // SK_MEMINFO_DROPS, index in its u32 array
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpDiagGetSock   = 18 // TCPDIAG_GETSOCK: the older request, of every family at once
	diagReqV1Len     = 60 // struct inet_diag_req
)

// diagSock is what one inet_diag_msg says of one socket.
type diagSock struct {
	state          uint8
	netns          uint32 // set by the reader: the namespace of the socket it asked
	local          netip.AddrPort
	cookie         uint64
	rqueue, wqueue uint32
	uid, inode     uint32
	drops          uint32
	hasDrops       bool
}

// diagRequest is a dump request of TCP sockets of family in states (a
// mask of 1<<state), asking for the memory counters when mem is set.
func diagRequest(family uint8, states uint32, mem bool, seq uint32) []byte {
	b := dumpRequest(sockDiagByFamily, diagReqLen, seq)
	r := b[unix.NLMSG_HDRLEN:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	if mem {
		r[2] = 1 << (diagSkMem - 1)
	}
	binary.NativeEndian.PutUint32(r[4:], states)
	// The socket id is zero but for its cookie: INET_DIAG_NOCOOKIE.
	binary.NativeEndian.PutUint32(r[48:], ^uint32(0))
	binary.NativeEndian.PutUint32(r[52:], ^uint32(0))
	return b
}

// diagRequestBothFamilies is the older request (struct inet_diag_req,
// TCPDIAG_GETSOCK), which the kernel still serves as a dump of every
// family (inet_diag_dump_compat sets AF_UNSPEC): one walk of the
// established hash for IPv4 and IPv6 where two requests of the newer
// kind take two.
func diagRequestBothFamilies(states uint32, seq uint32) []byte {
	b := dumpRequest(tcpDiagGetSock, diagReqV1Len, seq)
	r := b[unix.NLMSG_HDRLEN:]
	binary.NativeEndian.PutUint32(r[4+40:], ^uint32(0)) // the id's cookie: INET_DIAG_NOCOOKIE
	binary.NativeEndian.PutUint32(r[4+44:], ^uint32(0))
	binary.NativeEndian.PutUint32(r[52:], states)
	return b
}

// dumpRequest is a netlink dump request of type typ with a zeroed
// payload of n bytes.
func dumpRequest(typ uint16, n int, seq uint32) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+n)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(b[8:], seq)
	return b
}

// diagDump sends req on the sock_diag socket fd and calls fn for each
// socket of the reply, reading into buf.
func diagDump(fd int, req, buf []byte, fn func(*diagSock)) error {
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sock_diag request: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sock_diag reply: %w", err)
		}
		done, err := diagParse(buf[:n], fn)
		if done || err != nil {
			return err
		}
	}
}

// diagParse reads one datagram of a dump's reply; done says the dump
// ended.
func diagParse(b []byte, fn func(*diagSock)) (done bool, err error) {
	var s diagSock
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b))
		typ := binary.NativeEndian.Uint16(b[4:])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return true, errors.New("sock_diag reply: truncated message")
		}
		msg := b[unix.NLMSG_HDRLEN:l]
		b = b[min(nlAlign(l), len(b)):]
		switch typ {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(msg) >= 4 {
				if e := int32(binary.NativeEndian.Uint32(msg)); e != 0 {
					return true, fmt.Errorf("sock_diag: %w", unix.Errno(-e))
				}
			}
			return true, nil
		case sockDiagByFamily, tcpDiagGetSock:
			if parseDiagMsg(msg, &s) {
				fn(&s)
			}
		}
	}
	return false, nil
}

func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// parseDiagMsg reads an inet_diag_msg and its attributes into s.
func parseDiagMsg(m []byte, s *diagSock) bool {
	if len(m) < diagMsgLen {
		return false
	}
	*s = diagSock{state: m[1]}
	port := binary.BigEndian.Uint16(m[4:])
	var addr netip.Addr
	switch m[0] {
	case unix.AF_INET:
		addr = netip.AddrFrom4([4]byte(m[8:12]))
	case unix.AF_INET6:
		addr = netip.AddrFrom16([16]byte(m[8:24])).Unmap()
	default:
		return false
	}
	s.local = netip.AddrPortFrom(addr, port)
	s.cookie = uint64(binary.NativeEndian.Uint32(m[44:])) | uint64(binary.NativeEndian.Uint32(m[48:]))<<32
	s.rqueue = binary.NativeEndian.Uint32(m[56:])
	s.wqueue = binary.NativeEndian.Uint32(m[60:])
	s.uid = binary.NativeEndian.Uint32(m[64:])
	s.inode = binary.NativeEndian.Uint32(m[68:])
	for a := m[diagMsgLen:]; len(a) >= 4; {
		l := int(binary.NativeEndian.Uint16(a))
		typ := binary.NativeEndian.Uint16(a[2:])
		if l < 4 || l > len(a) {
			break
		}
		if typ == diagSkMem && l >= 4+4*(skMemDrops+1) {
			s.drops, s.hasDrops = binary.NativeEndian.Uint32(a[4+4*skMemDrops:]), true
		}
		a = a[min(nlAlign(l), len(a)):]
	}
	return true
}
