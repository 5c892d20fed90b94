package cgroup

import (
	"path"
	"slices"
	"strings"
)

// Container ids are taken only from the cgroups that container runtimes
// create, at the places they create them: a process that may create
// cgroups somewhere else (a user's delegated subtree, a container's own
// cgroup) can name one docker-<64 hex>.scope, and must not thereby claim
// a container's id. Each layout is anchored at the root of the
// hierarchy; "*" stands for any one name (a pod's uid), {id} for the 64
// lowercase hex digits of the container's id. The conmon monitors of
// CRI-O and podman (crio-conmon-<id>.scope, libpod-conmon-<id>.scope)
// match none, so they are not containers.
var layouts = append([][]string{
	// docker: cgroupfs driver, systemd driver
	{"docker", "{id}"},
	{"system.slice", "docker-{id}.scope"},
	// containerd without Kubernetes (nerdctl, ctr): cgroupfs, systemd
	{"default", "{id}"},
	{"k8s.io", "{id}"},
	{"system.slice", "nerdctl-{id}.scope"},
	// podman as root: systemd and cgroupfs managers, alone and in a pod
	{"machine.slice", "libpod-{id}.scope"},
	{"machine.slice", "machine-libpod_pod_*.slice", "libpod-{id}.scope"},
	{"libpod_parent", "libpod-{id}"},
	{"libpod_parent", "*", "libpod-{id}"},
}, kubepods()...)

// kubepods lists where the kubelet puts a container: in its pod's cgroup,
// under the pod's QoS class (guaranteed pods have none), named by the
// runtime (containerd, CRI-O, cri-dockerd), with the systemd and the
// cgroupfs driver.
func kubepods() [][]string {
	var ls [][]string
	for _, d := range []struct{ pods, names [][]string }{
		{[][]string{
			{"kubepods.slice", "kubepods-pod*.slice"},
			{"kubepods.slice", "kubepods-burstable.slice", "kubepods-burstable-pod*.slice"},
			{"kubepods.slice", "kubepods-besteffort.slice", "kubepods-besteffort-pod*.slice"},
		}, [][]string{{"cri-containerd-{id}.scope"}, {"crio-{id}.scope"}, {"docker-{id}.scope"}}},
		{[][]string{
			{"kubepods", "pod*"},
			{"kubepods", "burstable", "pod*"},
			{"kubepods", "besteffort", "pod*"},
		}, [][]string{{"{id}"}, {"crio-{id}"}}},
	} {
		for _, pod := range d.pods {
			for _, name := range d.names {
				ls = append(ls, slices.Concat(pod, name))
			}
		}
	}
	return ls
}

// ContainerID returns the id of the container a cgroup path belongs to,
// or "". It trusts only the first named elements of the path: those that
// root gave their names (the Resolver counts them). The container is the
// outermost one: what runs inside a container, nested containers
// included, is that container's, since the names below it are the
// container's own.
func ContainerID(cgroupPath string, named int) string {
	if named == 0 {
		return ""
	}
	elems := strings.Split(strings.Trim(cgroupPath, "/"), "/")
	for _, l := range layouts {
		if len(l) > min(len(elems), named) {
			continue
		}
		if id, ok := matchLayout(l, elems); ok {
			return id
		}
	}
	return ""
}

// matchLayout matches the leading elements of a path against layout l.
func matchLayout(l, elems []string) (string, bool) {
	id := ""
	for i, pat := range l {
		if before, after, ok := strings.Cut(pat, "{id}"); ok {
			rest, ok := strings.CutPrefix(elems[i], before)
			if !ok {
				return "", false
			}
			if id, ok = strings.CutSuffix(rest, after); !ok || !isID(id) {
				return "", false
			}
			continue
		}
		if ok, _ := path.Match(pat, elems[i]); !ok {
			return "", false
		}
	}
	return id, id != ""
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
