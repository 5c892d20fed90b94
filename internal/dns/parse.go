// Package dns turns the DNS answers that a host's processes received into
// names of remote addresses, per network namespace: remote_name. The
// kernel copies the bytes of every datagram and segment from port 53
// delivered to the socket that asked: one connected to its sender, or an
// unconnected one whose last question went there (bpf/dns.h); this
// package parses them with
// golang.org/x/net/dns/dnsmessage and keeps the most recent answer for
// each address in a cache of bounded size, until its TTL runs out.
//
// It is standard library plus dnsmessage: no kernel, no I/O.
package dns

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Answer says that name resolved to addr, valid for ttl.
type Answer struct {
	Name string     // the name the application asked for (the question), without the final dot
	Addr netip.Addr // an A or AAAA record the chain from Name led to
	TTL  time.Duration
}

// maxChain bounds the CNAME links followed from an address back to the
// question; resolvers give up much sooner (glibc after a handful).
const maxChain = 16

// ParseUDP returns the answers in one DNS message. A message that is not
// a successful response (a query, an error such as NXDOMAIN) gives none:
// a name is only taken from a question that was answered. A message cut
// short (the kernel copies at most 2048 bytes) gives the answers before
// the cut.
func ParseUDP(msg []byte) []Answer {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || !h.Response || h.RCode != dnsmessage.RCodeSuccess {
		return nil
	}
	// Exactly one question, as every resolver asks: the name is the
	// question's, and the addresses are those whose chain leads to it
	// (chase). No question, or more than one, names nothing.
	q, err := p.Question()
	if err != nil {
		return nil
	}
	if _, err := p.Question(); err != dnsmessage.ErrSectionDone {
		return nil
	}
	return chase(q.Name.String(), readAnswers(&p))
}

// ParseTCP returns the answers in the payload of one TCP segment from
// port 53: DNS messages each preceded by its length (RFC 1035 4.2.2). Only
// a segment that holds whole messages is read; one that starts or ends
// inside a message (a long answer split over segments) gives none rather
// than a guess.
func ParseTCP(payload []byte) []Answer {
	var out []Answer
	for len(payload) > 0 {
		if len(payload) < 2 {
			return nil
		}
		n := int(binary.BigEndian.Uint16(payload))
		if n == 0 || len(payload) < 2+n {
			return nil
		}
		out = append(out, ParseUDP(payload[2:2+n])...)
		payload = payload[2+n:]
	}
	return out
}

// record is one answer record that matters: an address or an alias.
type record struct {
	owner  string
	target string     // CNAME's target, or "" for an address
	addr   netip.Addr // A or AAAA
	ttl    uint32
}

// readAnswers reads the answer section up to its end or the first record
// that does not parse.
func readAnswers(p *dnsmessage.Parser) []record {
	var out []record
	for {
		h, err := p.AnswerHeader()
		if err != nil {
			return out
		}
		r := record{owner: h.Name.String(), ttl: h.TTL}
		switch h.Type {
		case dnsmessage.TypeA:
			a, err := p.AResource()
			if err != nil {
				return out
			}
			r.addr = netip.AddrFrom4(a.A)
		case dnsmessage.TypeAAAA:
			a, err := p.AAAAResource()
			if err != nil {
				return out
			}
			r.addr = netip.AddrFrom16(a.AAAA)
		case dnsmessage.TypeCNAME:
			c, err := p.CNAMEResource()
			if err != nil {
				return out
			}
			r.target = c.CNAME.String()
		default:
			if p.SkipAnswer() != nil {
				return out
			}
			continue
		}
		out = append(out, r)
	}
}

// chase follows each address's owner back through the CNAME records to
// the question. An address whose chain does not reach the question is
// left out: it is not the answer to what was asked. The TTL is the
// smallest along the chain, as a resolver's cache would keep it.
func chase(question string, recs []record) []Answer {
	var out []Answer
	for _, r := range recs {
		if !r.addr.IsValid() {
			continue
		}
		name, ttl, ok := r.owner, r.ttl, false
		for range maxChain {
			if strings.EqualFold(name, question) {
				ok = true
				break
			}
			alias := aliasOf(recs, name)
			if alias == nil {
				break
			}
			name, ttl = alias.owner, min(ttl, alias.ttl)
		}
		if ok {
			out = append(out, Answer{Name: strings.TrimSuffix(question, "."), Addr: r.addr, TTL: time.Duration(ttl) * time.Second})
		}
	}
	return out
}

// aliasOf finds the CNAME record whose target is name.
func aliasOf(recs []record, name string) *record {
	for i := range recs {
		if recs[i].target != "" && strings.EqualFold(recs[i].target, name) {
			return &recs[i]
		}
	}
	return nil
}
