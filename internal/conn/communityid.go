package conn

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// IANA protocol numbers, as the Community ID hashes them.
const (
	ipProtoTCP = 6
	ipProtoUDP = 17
)

// CommunityIDLen is the length of a Community ID v1 string: "1:" and the
// base64 of a SHA-1 digest.
const CommunityIDLen = 2 + 28

// AppendCommunityID appends the Community ID v1 of a TCP or UDP flow
// between a and b (https://github.com/corelight/community-id-spec): the
// SHA-1 of the seed (two bytes, big-endian), the two addresses, the
// protocol number, a zero byte and the two ports (big-endian), with the
// endpoints ordered so that the smaller address (or, for equal addresses,
// the smaller port) comes first; base64 with padding, after "1:". Both
// ends of a flow therefore have the same ID, and it is the one Zeek,
// Suricata and ECS data carry for the flow. Addresses must be of one
// family (rows carry IPv4 unmapped); for any other input, or another
// protocol, nothing is appended.
func AppendCommunityID(dst []byte, seed uint16, p Proto, a, b netip.AddrPort) []byte {
	sum, ok := communityIDSum(seed, p, a, b)
	if !ok {
		return dst
	}
	return AppendCommunityIDDigest(dst, &sum)
}

// CommunityIDDigest is the SHA-1 digest of a flow's Community ID with seed
// 0, as AppendCommunityID; ok is false when the flow has none. Keeping
// the 20 bytes instead of the 30-byte text keeps a pointer out of
// whatever holds it.
func CommunityIDDigest(p Proto, a, b netip.AddrPort) (sum [sha1.Size]byte, ok bool) {
	return communityIDSum(0, p, a, b)
}

// AppendCommunityIDDigest appends the Community ID v1 text of a digest:
// "1:" and its base64 with padding, CommunityIDLen bytes.
func AppendCommunityIDDigest(dst []byte, sum *[sha1.Size]byte) []byte {
	return base64.StdEncoding.AppendEncode(append(dst, '1', ':'), sum[:])
}

// communityIDSum is the SHA-1 digest of AppendCommunityID; ok is false
// when the flow has no ID.
func communityIDSum(seed uint16, p Proto, a, b netip.AddrPort) (sum [sha1.Size]byte, ok bool) {
	var proto byte
	switch p {
	case TCP:
		proto = ipProtoTCP
	case UDP:
		proto = ipProtoUDP
	default:
		return sum, false
	}
	aa, ba := a.Addr(), b.Addr()
	if !aa.IsValid() || !ba.IsValid() || aa.Is4() != ba.Is4() {
		return sum, false
	}
	if c := aa.Compare(ba); c > 0 || c == 0 && a.Port() > b.Port() {
		a, b, aa, ba = b, a, ba, aa
	}
	var buf [2 + 16 + 16 + 1 + 1 + 2 + 2]byte
	in := binary.BigEndian.AppendUint16(buf[:0], seed)
	in = appendAddrBytes(in, aa)
	in = appendAddrBytes(in, ba)
	in = append(in, proto, 0)
	in = binary.BigEndian.AppendUint16(in, a.Port())
	in = binary.BigEndian.AppendUint16(in, b.Port())
	return sha1.Sum(in), true
}

func appendAddrBytes(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}

// CommunityID returns the Community ID v1 of a flow with seed 0, as
// AppendCommunityID, or "" if it has none.
func CommunityID(p Proto, a, b netip.AddrPort) string {
	return string(AppendCommunityID(nil, 0, p, a, b))
}
