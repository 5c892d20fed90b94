package agg

import (
	"github.com/tcptop/tcptop/internal/conn"
)

// setCommunityID renders a flow's Community ID, when rows carry
// community_id: when the flow is made and whenever its addresses change.
// A row then costs nothing for it, not a SHA-1 and a base64 encoding, and
// every row shares the flow's string, which no one writes again.
func (a *Aggregator) setCommunityID(st *flowState) {
	if !a.cfg.CommunityID {
		return
	}
	st.cid = conn.CommunityID(st.proto, st.local.addrPort(), st.remote.addrPort())
}
