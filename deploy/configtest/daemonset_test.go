package configtest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// The capabilities the DaemonSet must add, no more: the same set as
// deploy/systemd/tcptop.service, in Kubernetes' spelling (no CAP_ prefix).
var wantCaps = []corev1.Capability{"BPF", "PERFMON", "NET_ADMIN"}

func loadDaemonSet(t *testing.T) *appsv1.DaemonSet {
	t.Helper()
	raw, err := os.ReadFile("../kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(raw, &ds); err != nil {
		t.Fatalf("decode daemonset.yaml: %v", err)
	}
	if ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" {
		t.Fatalf("%s %s, want apps/v1 DaemonSet", ds.APIVersion, ds.Kind)
	}
	return &ds
}

func TestDaemonSetNamespacesAndSelector(t *testing.T) {
	ds := loadDaemonSet(t)
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || !spec.HostPID {
		t.Errorf("hostNetwork %v, hostPID %v: tcptop needs the host's network and PID namespaces", spec.HostNetwork, spec.HostPID)
	}
	if spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("dnsPolicy %q, want %q with hostNetwork", spec.DNSPolicy, corev1.DNSClusterFirstWithHostNet)
	}
	sel := ds.Spec.Selector
	if sel == nil || len(sel.MatchLabels) == 0 {
		t.Fatal("no selector")
	}
	for k, v := range sel.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, ds.Spec.Template.Labels)
		}
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
}

func TestDaemonSetSecurityContext(t *testing.T) {
	c := loadDaemonSet(t).Spec.Template.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no securityContext.capabilities")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged: true; tcptop needs only the named capabilities")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation should be false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem should be true: tcptop writes only to stdout")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities.drop %v, want [ALL]", sc.Capabilities.Drop)
	}
	if !slices.Equal(sc.Capabilities.Add, wantCaps) {
		t.Errorf("capabilities.add %v, want exactly %v", sc.Capabilities.Add, wantCaps)
	}
	// Added capabilities reach the effective set only for root.
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("runAsUser should be 0: Kubernetes gives added capabilities to root's effective set only")
	}
}

func TestDaemonSetMountsReadOnly(t *testing.T) {
	spec := loadDaemonSet(t).Spec.Template.Spec
	hostPaths := map[string]string{} // volume name → host path
	for _, v := range spec.Volumes {
		if v.HostPath == nil {
			t.Errorf("volume %s is not a hostPath", v.Name)
			continue
		}
		hostPaths[v.Name] = v.HostPath.Path
	}
	mounted := map[string]bool{}
	for _, m := range spec.Containers[0].VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("%s is mounted read-write; tcptop only reads", m.MountPath)
		}
		if hostPaths[m.Name] != m.MountPath {
			t.Errorf("%s mounts host path %q: want the same path inside as outside", m.MountPath, hostPaths[m.Name])
		}
		mounted[m.MountPath] = true
	}
	for _, p := range []string{"/sys/kernel/btf", "/sys/fs/cgroup"} {
		if !mounted[p] {
			t.Errorf("%s not mounted: tcptop reads it", p)
		}
	}
}

func TestDaemonSetResourcesAndOutput(t *testing.T) {
	c := loadDaemonSet(t).Spec.Template.Spec.Containers[0]
	for name, want := range map[string]map[corev1.ResourceName]string{
		"requests": {corev1.ResourceCPU: "100m", corev1.ResourceMemory: "96Mi"},
		"limits":   {corev1.ResourceMemory: "192Mi"},
	} {
		got := c.Resources.Requests
		if name == "limits" {
			got = c.Resources.Limits
		}
		if len(got) != len(want) {
			t.Errorf("%s %v, want %v", name, got, want)
		}
		for res, q := range want {
			if v, ok := got[res]; !ok || v.Cmp(resource.MustParse(q)) != 0 {
				t.Errorf("%s.%s = %v, want %s", name, res, got[res], q)
			}
		}
	}
	if !slices.Contains(c.Args, "--output=ndjson") {
		t.Errorf("args %v: want --output=ndjson, one JSON record per line for the node's log agent", c.Args)
	}
	for _, e := range c.Env {
		if len(e.Name) < 7 || e.Name[:7] != "TCPTOP_" {
			t.Errorf("env %s: tcptop reads TCPTOP_* variables only", e.Name)
		}
	}
}

// TestDaemonSetNodeAgent: the runtime's default system call filter (not
// Unconfined, which a pod gets when nothing is named) and the priority
// class of a node agent, so that eviction under memory pressure takes
// ordinary pods first.
func TestDaemonSetNodeAgent(t *testing.T) {
	spec := loadDaemonSet(t).Spec.Template.Spec
	profile := spec.Containers[0].SecurityContext.SeccompProfile
	if profile == nil && spec.SecurityContext != nil {
		profile = spec.SecurityContext.SeccompProfile
	}
	if profile == nil || profile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %v, want type RuntimeDefault", profile)
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName %q, want system-node-critical", spec.PriorityClassName)
	}
}

// TestDaemonSetImageIsWhatMakeBuilds: the image the DaemonSet names is a
// tag `make image` gives the image it builds.
func TestDaemonSetImageIsWhatMakeBuilds(t *testing.T) {
	c := loadDaemonSet(t).Spec.Template.Spec.Containers[0]
	out, err := exec.Command("make", "-s", "-n", "-C", "../..", "image", "VERSION=v0.0.0-test").Output()
	if err != nil {
		t.Fatalf("make -n image: %v", err)
	}
	var tags []string
	for f := range strings.FieldsSeq(string(out)) {
		if tag, ok := strings.CutPrefix(f, "tcptop:"); ok {
			tags = append(tags, "tcptop:"+tag)
		}
	}
	if !slices.Contains(tags, "tcptop:v0.0.0-test") {
		t.Errorf("make image tags %v: want the version among them", tags)
	}
	if !slices.Contains(tags, c.Image) {
		t.Errorf("image %q: make image builds %v", c.Image, tags)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy %q, want IfNotPresent: a node that holds the image runs it", c.ImagePullPolicy)
	}
}

// TestDaemonSetServesMetrics: --listen's port is the container's port
// named metrics, the readiness probe's and the scrape annotations'.
func TestDaemonSetServesMetrics(t *testing.T) {
	ds := loadDaemonSet(t)
	c := ds.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--listen=:9917") {
		t.Errorf("args %v: want --listen=:9917", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort != 9917 {
		t.Errorf("ports %+v, want metrics 9917", c.Ports)
	}
	p := c.ReadinessProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/metrics" || p.HTTPGet.Port.String() != "metrics" {
		t.Errorf("readinessProbe %+v, want GET /metrics on the metrics port", p)
	}
	a := ds.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9917" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("annotations %v, want prometheus.io/scrape, port 9917 and path /metrics", a)
	}
}
