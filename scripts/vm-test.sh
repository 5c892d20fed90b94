#!/usr/bin/env bash
# Runs tcptop's kernel tests inside Debian's newest 6.1 kernel under qemu
# (software emulation: there is no KVM here). 6.1 lacks the
# sock_send_length/sock_recv_length tracepoints, so the fallback hook paths
# (fexit, kprobe) are what gets tested. The result is read from the serial
# console. Needs root (apt) and about a minute.
#
#   scripts/vm-test.sh            build, boot, test; exit 0 only if all passed
#   VM_WORK=dir scripts/vm-test.sh  cache the kernel and initramfs in dir
set -euo pipefail
cd "$(dirname "$0")/.."
work="${VM_WORK:-$PWD/.vm}"
mkdir -p "$work"

log() { printf 'vm-test: %s\n' "$*" >&2; }

install_tools() {
	local need=()
	command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
	command -v cpio >/dev/null || need+=(cpio)
	dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
	[ ${#need[@]} -eq 0 ] && return
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# fetch_kernel prints the path of the vmlinuz of the newest
# linux-image-6.1.*-cloud-amd64-unsigned (Debian drops old ABI numbers, so
# the name is looked up each run).
fetch_kernel() {
	local re='^linux-image-6\.1\.[0-9.]+-[0-9]+-cloud-amd64-unsigned$' pkg
	pkg=$(apt-cache pkgnames linux-image-6.1 | grep -E "$re" | sort -V | tail -n 1 || true)
	if [ -z "$pkg" ]; then
		apt-get update -qq
		pkg=$(apt-cache pkgnames linux-image-6.1 | grep -E "$re" | sort -V | tail -n 1)
	fi
	if [ ! -d "$work/$pkg" ]; then
		log "downloading $pkg"
		(cd "$work" && apt-get download -qq "$pkg" >/dev/null)
		dpkg-deb -x "$work/${pkg}"_*.deb "$work/$pkg"
		rm -f "$work/${pkg}"_*.deb
	fi
	ls "$work/$pkg"/boot/vmlinuz-*
}

# build_initramfs packs busybox, the sock_diag modules (Debian builds them
# as modules; there is no modprobe to load them on demand), static test
# binaries and an init script that runs them and powers off.
build_initramfs() {
	local root="$work/root" kdir="$1"
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/modules"
	cp /bin/busybox "$root/bin/busybox"
	cp "$kdir"/lib/modules/*/kernel/net/ipv4/inet_diag.ko "$kdir"/lib/modules/*/kernel/net/ipv4/tcp_diag.ko "$root/modules/"
	log "building static test binaries"
	CGO_ENABLED=0 go test -c -o "$root/source.test" ./internal/source
	CGO_ENABLED=0 go test -c -o "$root/cli.test" ./internal/cli
	CGO_ENABLED=0 go build -o "$root/tcptop" ./cmd/tcptop
	cp scripts/vm-init.sh "$root/init"
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz"
}

install_tools
kernel=$(fetch_kernel)
build_initramfs "$(dirname "$(dirname "$kernel")")"
log "booting $(basename "$kernel") under qemu (TCG)"
serial="$work/serial.log"
timeout 1500 qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2048 -nographic -no-reboot -nic none \
	-kernel "$kernel" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3" </dev/null | tr -d '\r' | tee "$serial"
if grep -q '^TCPTOP-VM-RESULT PASS$' "$serial"; then
	log "all kernel tests passed in the VM"
	exit 0
fi
log "kernel tests failed in the VM (serial console in $serial)"
exit 1
