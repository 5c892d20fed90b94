package agg

import (
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// setCommunityID hashes a flow's Community ID, when rows carry
// community_id: when the flow is made and whenever its addresses change.
// The flow keeps the 20-byte digest, not the text: a string per flow was
// 4 MB of heap at 100,000 flows, and the one pointer in flowState, which
// made the garbage collector visit every flow.
func (a *Aggregator) setCommunityID(st *flowState) {
	if !a.cfg.CommunityID {
		return
	}
	var ok bool
	st.cid, ok = conn.CommunityIDDigest(st.proto, st.local.addrPort(), st.remote.addrPort())
	if ok {
		st.flags |= fCID
	} else {
		st.flags &^= fCID
	}
}

// textArena hands out the rows' Community ID texts from shared chunks:
// one allocation per 1,000 rows instead of one per row. A chunk is never
// written again once a text is in it (a full one is left to the garbage
// collector, which frees it when no row refers to it), so each text
// stays the row's own, however long the row is kept (--sort, --group-by).
type textArena struct{ buf []byte }

const textChunk = 32 << 10

// communityID returns the Community ID text of a digest.
func (t *textArena) communityID(sum *[20]byte) string {
	if cap(t.buf)-len(t.buf) < conn.CommunityIDLen {
		t.buf = make([]byte, 0, textChunk)
	}
	n := len(t.buf)
	t.buf = conn.AppendCommunityIDDigest(t.buf, sum)
	return unsafe.String(&t.buf[n], len(t.buf)-n)
}
