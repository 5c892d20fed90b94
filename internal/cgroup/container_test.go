package cgroup

import "testing"

const (
	id1 = "3f3c4a3b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"
	id2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// TestContainerID covers the layouts of docker, containerd, CRI-O and
// podman as they appear in /proc/PID/cgroup on real hosts.
func TestContainerID(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		// docker, cgroupfs driver (and docker-in-docker: the inner one)
		{"/docker/" + id1, id1},
		{"/docker/" + id1 + "/docker/" + id2, id2},
		// docker, systemd driver
		{"/system.slice/docker-" + id1 + ".scope", id1},
		// containerd through the CRI (Kubernetes), systemd driver
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6b5c8e2a_1f4d_4c1e_9d3b_2a7e5f1c0b9d.slice/cri-containerd-" + id1 + ".scope", id1},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/cri-containerd-" + id2 + ".scope", id2},
		// kubelet with the cgroupfs driver: the path ends in the id
		{"/kubepods/burstable/pod6b5c8e2a-1f4d-4c1e-9d3b-2a7e5f1c0b9d/" + id1, id1},
		{"/kubepods/pod6b5c8e2a-1f4d-4c1e-9d3b-2a7e5f1c0b9d/" + id2, id2},
		// containerd without Kubernetes (namespace k8s.io or default)
		{"/k8s.io/" + id1, id1},
		// CRI-O, and its conmon, which is not a container
		{"/kubepods.slice/kubepods-pod1.slice/crio-" + id1 + ".scope", id1},
		{"/kubepods.slice/kubepods-pod1.slice/crio-conmon-" + id1 + ".scope", ""},
		// podman, root and rootless, with the container's own child cgroup
		{"/machine.slice/libpod-" + id1 + ".scope", id1},
		{"/machine.slice/libpod-" + id1 + ".scope/container", id1},
		{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id2 + ".scope", id2},
		{"/machine.slice/libpod-conmon-" + id1 + ".scope", ""},
		// not containers
		{"/", ""},
		{"", ""},
		{"/system.slice/ssh.service", ""},
		{"/user.slice/user-1000.slice/session-3.scope", ""},
		{"/system.slice/docker.service", ""},
		{"/docker/" + id1[:12], ""},                                                           // a short id is not a cgroup name
		{"/docker/" + "3F3C4A3B5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7A8", ""}, // ids are lower case
		{"/system.slice/docker-" + id1 + ".service", ""},
	} {
		if got := ContainerID(tc.path); got != tc.want {
			t.Errorf("ContainerID(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}
