package agg

import (
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// setCommunityID computes a flow's Community ID digest, when rows carry
// community_id: when the flow is made and whenever its addresses change,
// so that a row costs a base64 encoding, not a SHA-1.
func (a *Aggregator) setCommunityID(st *flowState) {
	if !a.cfg.CommunityID {
		return
	}
	var ok bool
	st.cid, ok = conn.CommunityIDSum(0, st.proto, st.local.addrPort(), st.remote.addrPort())
	if ok {
		st.flags |= fCommunityID
	} else {
		st.flags &^= fCommunityID
	}
}

// communityID renders a flow's Community ID in the aggregator's buffer,
// which the next row's reuses: the string lives as long as the row does.
func (a *Aggregator) communityID(st *flowState) string {
	if st.flags&fCommunityID == 0 {
		return ""
	}
	b := conn.AppendCommunityIDSum(a.cidBuf[:0], &st.cid)
	return unsafe.String(unsafe.SliceData(b), len(b))
}
