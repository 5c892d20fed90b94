package filter

import "testing"

func TestUses(t *testing.T) {
	for _, tc := range []struct {
		where string
		want  bool
	}{
		{``, false},
		{`proto == "tcp"`, false},
		{`community_id == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="`, true},
		{`proto == "udp" || community_id startsWith "1:a"`, true},
		{`$env["community_id"] != ""`, true},
		{`comm == "community_id"`, false},
	} {
		f, err := Compile(tc.where)
		if err != nil {
			t.Fatalf("%s: %v", tc.where, err)
		}
		if got := f.Uses("community_id"); got != tc.want {
			t.Errorf("Compile(%q).Uses(community_id) = %v, want %v", tc.where, got, tc.want)
		}
	}
}
