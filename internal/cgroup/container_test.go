package cgroup

import (
	"strings"
	"testing"
)

const (
	id1 = "3f3c4a3b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
	id2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// TestContainerID covers the layouts of docker, containerd, CRI-O and
// podman as they appear in /proc/PID/cgroup on real hosts, with every
// name given by root; and the same names where root did not give them.
func TestContainerID(t *testing.T) {
	const pod = "pod6b5c8e2a-1f4d-4c1e-9d3b-2a7e5f1c0b9d"
	const podSlice = "pod6b5c8e2a_1f4d_4c1e_9d3b_2a7e5f1c0b9d.slice"
	for _, tc := range []struct{ path, want string }{
		// docker, cgroupfs driver; docker in docker is the outer one,
		// whose processes named the inner
		{"/docker/" + id1, id1},
		{"/docker/" + id1 + "/docker/" + id2, id1},
		// docker, systemd driver
		{"/system.slice/docker-" + id1 + ".scope", id1},
		// containerd without Kubernetes: nerdctl's namespaces, systemd
		{"/default/" + id1, id1},
		{"/k8s.io/" + id1, id1},
		{"/system.slice/nerdctl-" + id2 + ".scope", id2},
		// Kubernetes, systemd driver, each QoS class and runtime
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-" + podSlice + "/cri-containerd-" + id1 + ".scope", id1},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/cri-containerd-" + id2 + ".scope", id2},
		{"/kubepods.slice/kubepods-" + podSlice + "/cri-containerd-" + id1 + ".scope", id1},
		{"/kubepods.slice/kubepods-" + podSlice + "/crio-" + id1 + ".scope", id1},
		{"/kubepods.slice/kubepods-" + podSlice + "/crio-" + id1 + ".scope/container", id1},
		{"/kubepods.slice/kubepods-" + podSlice + "/crio-conmon-" + id1 + ".scope", ""},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-" + podSlice + "/docker-" + id2 + ".scope", id2},
		// Kubernetes, cgroupfs driver: the path ends in the id (crio-<id>)
		{"/kubepods/burstable/" + pod + "/" + id1, id1},
		{"/kubepods/besteffort/" + pod + "/crio-" + id2, id2},
		{"/kubepods/" + pod + "/" + id2, id2},
		// podman as root, systemd and cgroupfs, alone and in a pod; its
		// conmon is not a container
		{"/machine.slice/libpod-" + id1 + ".scope", id1},
		{"/machine.slice/libpod-" + id1 + ".scope/container", id1},
		{"/machine.slice/machine-libpod_pod_" + id2 + ".slice/libpod-" + id1 + ".scope", id1},
		{"/machine.slice/libpod-conmon-" + id1 + ".scope", ""},
		{"/libpod_parent/libpod-" + id1, id1},
		{"/libpod_parent/" + id2 + "/libpod-" + id1, id1},
		// a kind node seen from its host: the node's container
		{"/system.slice/docker-" + id1 + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod1.slice/cri-containerd-" + id2 + ".scope", id1},
		// the right names in the wrong places: anyone who may create a
		// cgroup can choose these names
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id2 + ".scope", ""},
		{"/user.slice/user-65534.slice/user@65534.service/app.slice/docker-" + id1 + ".scope", ""},
		{"/system.slice/foo.service/docker-" + id1 + ".scope", ""},
		{"/tcptop-test/docker-" + id1 + ".scope", ""},
		{"/docker-" + id1 + ".scope", ""},
		{"/" + id1, ""},
		{"/system.slice/" + id1, ""},
		{"/kubepods/" + id1, ""},
		{"/kubepods.slice/cri-containerd-" + id1 + ".scope", ""},
		{"/machine.slice/docker-" + id1 + ".scope", ""},
		// not containers
		{"/", ""},
		{"", ""},
		{"/system.slice/ssh.service", ""},
		{"/user.slice/user-1000.slice/session-3.scope", ""},
		{"/system.slice/docker.service", ""},
		{"/docker/" + id1[:12], ""},             // a short id is not a cgroup name
		{"/docker/" + strings.ToUpper(id1), ""}, // ids are lower case
		{"/docker/" + id1 + "0", ""},            // nor longer
		{"/system.slice/docker-" + id1 + ".service", ""},
		{"/system.slice/docker-" + id1 + ".scope.scope", ""},
	} {
		if got := ContainerID(tc.path, 1<<10); got != tc.want {
			t.Errorf("ContainerID(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestContainerIDNamed: an id is taken only from an element that root
// named, whatever is below it.
func TestContainerIDNamed(t *testing.T) {
	for _, tc := range []struct {
		path  string
		named int
		want  string
	}{
		{"/system.slice/docker-" + id1 + ".scope", 2, id1},
		{"/system.slice/docker-" + id1 + ".scope/init.scope", 2, id1}, // the container's own cgroups
		{"/system.slice/docker-" + id1 + ".scope", 1, ""},             // system.slice was delegated
		{"/system.slice/docker-" + id1 + ".scope", 0, ""},             // so was the root
		{"/kubepods/burstable/pod1/" + id1, 3, ""},
		{"/kubepods/burstable/pod1/" + id1, 4, id1},
	} {
		if got := ContainerID(tc.path, tc.named); got != tc.want {
			t.Errorf("ContainerID(%q, %d) = %q, want %q", tc.path, tc.named, got, tc.want)
		}
	}
}
