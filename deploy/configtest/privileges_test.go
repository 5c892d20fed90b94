package configtest

import (
	"os"
	"strings"
	"testing"
)

// TestRecipesSayHowTcptopGetsItsPrivileges: every recipe says where
// tcptop's capabilities come from, since a packaged shipper is not root:
// the binary's file capabilities when the shipper starts it, or the
// service unit (which holds them) when the shipper reads its output.
func TestRecipesSayHowTcptopGetsItsPrivileges(t *testing.T) {
	for _, recipe := range []string{"syslog-ng.conf", "vector.yaml", "fluent-bit.conf", "otelcol/config.yaml"} {
		b, err := os.ReadFile("../../docs/recipes/" + recipe)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "setcap cap_bpf,cap_perfmon,cap_net_admin+ep /usr/local/bin/tcptop") &&
			!strings.Contains(string(b), "deploy/systemd/tcptop.service") {
			t.Errorf("%s does not say how tcptop gets its capabilities (setcap on the binary, or the service unit)", recipe)
		}
	}
}
