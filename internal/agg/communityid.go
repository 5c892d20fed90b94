package agg

import (
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// setCommunityID marks a flow as having a Community ID, when rows carry
// community_id: when the flow is made and whenever its addresses change.
// The flow keeps no digest and no string (a string per flow was 4.5 MB
// of heap at 100,000 flows, and the one pointer in flowState, which made
// the garbage collector visit every flow; the 20-byte digest was 1.6 MB,
// docs/design.md 2026-12-07 session 20:03): its text is written once, at
// its next row, into cidTexts, from its addresses.
func (a *Aggregator) setCommunityID(st *flowState) {
	st.flags &^= fCID | fCIDText
	if a.cfg.CommunityID && hasCommunityID(st) {
		st.flags |= fCID
	}
}

// hasCommunityID is conn.CommunityIDDigest's ok for the flow, without
// the hash: TCP or UDP, both addresses set, of one family.
func hasCommunityID(st *flowState) bool {
	return (st.proto == conn.TCP || st.proto == conn.UDP) && st.local.fam != 0 && st.local.fam == st.remote.fam
}

// communityID is the text of flow idx's Community ID: a string into
// cidTexts, written at the flow's first row since its addresses were set
// (or since a relocation moved it: the hash is then made again, about
// 0.3 µs a flow, once).
func (a *Aggregator) communityID(idx uint32, st *flowState) string {
	if st.flags&fCIDText == 0 {
		sum, _ := conn.CommunityIDDigest(st.proto, st.local.addrPort(), st.remote.addrPort())
		a.texts.write(idx, &sum, a.tick)
		st.flags |= fCIDText
	}
	return a.texts.at(idx)
}

// cidTexts holds the flows' Community ID texts, 30 bytes at each flow's
// index, in blocks that follow the slab's chunks: a row's community_id
// is a string into them, so rows cost no allocation and no base64 for
// it, and a tick makes no garbage for it.
//
// A row owns its strings: bytes once handed out are never written again.
// A slot is written in place only while no string into it can exist: it
// was never written, or its block was copied in this tick (the slot's
// flow, which alone hands out that slot, had no text in the copy, so
// nothing was handed out from it since). Otherwise the block is copied
// first, once a tick at most, and the rows that hold the old block keep
// it alive.
type cidTexts struct {
	blocks [][]byte
	copied []int64 // the tick each block was last copied in
}

const cidBlock = conn.CommunityIDLen << chunkBits

func (c *cidTexts) at(idx uint32) string {
	b := c.blocks[idx>>chunkBits]
	off := int(idx&(1<<chunkBits-1)) * conn.CommunityIDLen
	return unsafe.String(&b[off], conn.CommunityIDLen)
}

func (c *cidTexts) write(idx uint32, sum *[20]byte, tick int64) {
	ch := int(idx >> chunkBits)
	for len(c.blocks) <= ch {
		c.blocks = append(c.blocks, nil)
		c.copied = append(c.copied, 0)
	}
	off := int(idx&(1<<chunkBits-1)) * conn.CommunityIDLen
	switch b := c.blocks[ch]; {
	case b == nil:
		c.blocks[ch] = make([]byte, cidBlock)
	case b[off] != 0 && c.copied[ch] != tick:
		c.blocks[ch] = append(make([]byte, 0, cidBlock), b...)
		c.copied[ch] = tick
	}
	conn.AppendCommunityIDDigest(c.blocks[ch][off:off], sum)
}

// reset forgets every text, for when the flows move to other indexes
// (relocateIfScattered): the flows' fCIDText must be cleared with it.
func (c *cidTexts) reset() { c.blocks, c.copied = nil, nil }
