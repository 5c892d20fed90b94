package cgroup

import "strings"

// ContainerID returns the id of the container a cgroup path belongs to,
// or "" when it is not a container's. Layouts recognised, innermost
// match first (a container in a container is the inner one):
//
//	docker, cgroupfs driver       /docker/<id>
//	docker, systemd driver        /system.slice/docker-<id>.scope
//	containerd (CRI), systemd     .../kubepods-...-pod<uid>.slice/cri-containerd-<id>.scope
//	kubelet, cgroupfs driver      /kubepods/<qos>/pod<uid>/<id>
//	CRI-O                         .../crio-<id>.scope
//	podman                        .../libpod-<id>.scope (and its /container child)
//
// where <id> is 64 lowercase hex digits. The conmon monitors that CRI-O
// and podman run next to a container (crio-conmon-<id>.scope,
// libpod-conmon-<id>.scope) are not containers.
func ContainerID(path string) string {
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		elem := path[i+1:]
		path = path[:max(i, 0)]
		if id := containerOf(elem); id != "" {
			return id
		}
	}
	return ""
}

// containerPrefixes name a container's scope unit under systemd.
var containerPrefixes = []string{"docker-", "cri-containerd-", "crio-", "libpod-"}

func containerOf(elem string) string {
	if isID(elem) {
		return elem
	}
	unit, ok := strings.CutSuffix(elem, ".scope")
	if !ok {
		return ""
	}
	for _, p := range containerPrefixes {
		if id, ok := strings.CutPrefix(unit, p); ok && isID(id) {
			return id
		}
	}
	return ""
}

// isID reports whether s is a full container id: 64 lowercase hex digits.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
