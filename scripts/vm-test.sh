#!/usr/bin/env bash
# Runs tcptop's kernel tests in each kernel of the matrix
# (scripts/kernels.conf), one after the other: Debian kernels booted under
# qemu (software emulation, there is no KVM here), amd64 and arm64, each
# with a busybox initramfs and the static test binaries cross-built for its
# architecture. Every test of the source and e2e packages runs; the report
# lists, per kernel and hook path, the exact-value checks that ran, and
# every skipped test with its reason.
#
#   scripts/vm-test.sh              every VM kernel of the matrix
#   scripts/vm-test.sh 5.10 6.12    only those (make test-vm KERNEL=5.10);
#                                   naming the host line runs the tests here
#   scripts/vm-test.sh all          every line, the host's too (CI)
#
# Downloads are cached in .vm/ (VM_WORK moves it), see vm-fetch.sh. Needs
# root for apt-get install of qemu and kmod when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${VM_WORK:-$PWD/.vm}"
export VM_WORK="$work"
conf=scripts/kernels.conf
all_paths="tracepoint fexit kprobe"
# The sock_diag module for TCP, veth for the tests that join network
# namespaces, and nftables for the tests that drop (a named counter on a
# drop rule) or translate (a NAT chain with dnat) packets: nf_conntrack
# and nf_nat come with nft_chain_nat and nft_nat. The guest has no
# modprobe for the kernel to load an nft expression on demand, so each
# is loaded at boot. modprobe --show-depends adds what they need. "A/B":
# A, or where A is no module of its own, B, which holds it: the counter
# and the object reference (counter name) are modules up to 5.10, built
# into nf_tables.ko later (the counter from 6.1, objref from 6.12).
# nf_conntrack_netlink: ctnetlink, which the translated tuples (xlat_*) ask;
# TestXlat runs in every guest.
modules=(tcp_diag veth nf_tables nft_counter/nf_tables nft_objref/nf_tables nf_conntrack nf_conntrack_netlink nf_nat nft_chain_nat nft_nat)
# Userland the guests get from Debian (bookworm, the guest's architecture)
# besides busybox: glibc and its getent (the remote_name tests resolve
# through getaddrinfo), prometheus with promtool (the Prometheus test
# scrapes with Debian's prometheus; both link glibc), and nft with the
# libraries it links. The nft packages are nftables's Depends, and
# theirs, down to libc6 (check_depends fails the run if one names a
# package that is not here).
userland=(libc6 libc-bin prometheus)
nft_userland=(nftables libnftables1 libedit2 libgmp10 libjansson4 libmnl0 libnftnl11 libxtables12 libbsd0 libtinfo6 libmd0)

log() { printf 'vm-test: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---- the matrix ----

declare -A suite arch pkg offers lacks refuses
names=()
next=() # lines marked #next: run when named, not by default nor by all
while read -r n s a p o l r; do
	if [ "$n" = "#next" ]; then
		read -r n s a p o l r <<<"$s $a $p $o $l $r"
		next+=("$n")
	fi
	case "$n" in '' | '#'*) continue ;; esac
	[ -n "$r" ] || die "$conf: line of $n has not seven fields"
	case "$a" in amd64 | arm64) ;; *) die "$conf: $n: unknown arch $a" ;; esac
	# offers and lacks must split the three paths between them.
	got=$(tr ',' '\n' <<<"$o,${l#-}" | grep -v '^$' | sort | tr '\n' ' ')
	[ "$got" = "fexit kprobe tracepoint " ] || die "$conf: $n: offers $o and lacks $l must name each of $all_paths once"
	names+=("$n") suite[$n]=$s arch[$n]=$a pkg[$n]=$p offers[$n]=$o lacks[$n]=$l refuses[$n]=$r
done <"$conf"

selected=("$@")
if [ ${#selected[@]} -eq 0 ] && [ -n "${KERNEL:-}" ]; then
	read -ra selected <<<"$KERNEL"
fi
is_next() { [[ " ${next[*]} " == *" $1 "* ]]; }
if [ "${selected[*]}" = all ]; then
	selected=()
	for n in "${names[@]}"; do
		is_next "$n" || selected+=("$n")
	done
elif [ ${#selected[@]} -eq 0 ]; then
	for n in "${names[@]}"; do
		[ "${suite[$n]}" = host ] || is_next "$n" || selected+=("$n")
	done
fi
for n in "${selected[@]}"; do
	[ -n "${suite[$n]:-}" ] || die "no kernel $n in $conf (there: ${names[*]})"
done

# ---- tools ----

install_tools() {
	local need=() n
	for n in "${selected[@]}"; do
		case "${suite[$n]}/${arch[$n]}" in
		host/*) ;;
		*/amd64) command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86) ;;
		*/arm64) command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm) ;;
		esac
	done
	command -v cpio >/dev/null || need+=(cpio)
	command -v depmod >/dev/null || need+=(kmod)
	command -v xz >/dev/null || need+=(xz-utils) # 6.12's modules are .ko.xz
	[ ${#need[@]} -eq 0 ] && return
	mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# build ARCH builds the static test binaries and tcptop for ARCH.
build() {
	local a=$1 out="$work/bin/$1"
	log "building static test binaries for $a"
	mkdir -p "$out"
	GOARCH=$a CGO_ENABLED=0 go test -c -o "$out/source.test" ./internal/source
	GOARCH=$a CGO_ENABLED=0 go test -c -o "$out/e2e.test" ./internal/e2e
	GOARCH=$a CGO_ENABLED=0 go build -o "$out/tcptop" ./cmd/tcptop
}

# ---- one VM ----

# add_modules KDIR ROOT copies the modules and their dependencies into
# ROOT/modules, uncompressed, and lists them in load order.
add_modules() {
	local kdir=$1 root=$2 kver line m f
	kver=$(basename "$(ls -d "$kdir"/lib/modules/*)")
	depmod -b "$kdir" "$kver"
	mkdir -p "$root/modules"
	: >"$root/modules/order"
	for m in "${modules[@]}"; do
		# "insmod PATH" per module in dependency order, "builtin NAME" if
		# the kernel has it built in.
		if [[ "$m" == */* ]]; then
			if modprobe -d "$kdir" -S "$kver" --show-depends "${m%/*}" >/dev/null 2>&1; then
				m=${m%/*}
			else
				log "${m%/*}: no module of its own in $kver, part of ${m#*/}"
				m=${m#*/}
			fi
		fi
		if ! line=$(modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>&1); then
			log "!!! MODULE $m MISSING from $(basename "$kdir"): $line"
			log "!!! without it the tests that need it (sock_diag, veth, nftables) fail"
			return 1
		fi
		while read -r what f _; do
			[ "$what" = insmod ] || continue
			m=$(basename "$f")
			case "$f" in
			*.xz) xz -dc "$f" >"$root/modules/${m%.xz}" ;;
			*) cp "$f" "$root/modules/$m" ;;
			esac
			m=${m%.xz}
			grep -qx "$m" "$root/modules/order" || echo "$m" >>"$root/modules/order"
		done <<<"$line"
	done
	log "modules, in load order: $(tr '\n' ' ' <"$root/modules/order")"
}

# add_userland ROOT ARCH copies glibc (its /lib and /lib64: the loader
# and libc.so.6, which has the DNS resolver in it since 2.34), getent,
# prometheus and promtool into ROOT, with the /etc files glibc's resolver
# reads: an /etc/resolv.conf for testnet.Getent to bind over, hosts and
# nsswitch.conf; and /usr/sbin/nft with the shared libraries of its
# packages (in /lib/ARCH-linux-gnu and /usr/lib/ARCH-linux-gnu, where
# Debian's loader looks without an ld.so.cache).
add_userland() {
	local root=$1 a=$2 dirs libc bin prom nft d
	read -ra dirs <<<"${userdirs[$a]}"
	libc=${dirs[0]} bin=${dirs[1]} prom=${dirs[2]} nft=${dirs[3]}
	cp -a "$libc/lib" "$root/"
	[ ! -d "$libc/lib64" ] || cp -a "$libc/lib64" "$root/"
	mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/etc"
	cp "$bin/usr/bin/getent" "$prom/usr/bin/prometheus" "$prom/usr/bin/promtool" "$root/usr/bin/"
	cp "$nft/usr/sbin/nft" "$root/usr/sbin/"
	for d in "${dirs[@]:3}"; do
		(cd "$d" && find . -path './*lib/*' -name '*.so.*' | cpio -pdm --quiet "$root")
	done
	: >"$root/etc/resolv.conf"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# initramfs NAME KDIR BUSYBOX_DIR writes $work/NAME.cpio: busybox, the
# modules, glibc's userland (add_userland), the test binaries and
# vm-init.sh as /init.
initramfs() {
	local n=$1 kdir=$2 bb=$3 root="$work/root/$1"
	rm -rf "$root"
	mkdir -p "$root/bin"
	# /bin up to bookworm, /usr/bin from trixie on (merged /usr).
	cp "$(ls "$bb"/bin/busybox "$bb"/usr/bin/busybox 2>/dev/null | head -n 1)" "$root/bin/busybox"
	add_modules "$kdir" "$root"
	add_userland "$root" "${arch[$n]}"
	cp "$work/bin/${arch[$n]}"/* "$root/"
	cp scripts/vm-init.sh "$root/init"
	# The README and the recipes (tests run the README's awk recipe and
	# check --help against the recipes; the tests run from /, so
	# ../../README.md is /README.md) and the users the tests switch to.
	cp README.md "$root/"
	mkdir -p "$root/docs" && cp -r docs/recipes "$root/docs/"
	# The source tests' fixtures (the preemption model's roots), read from
	# the working directory, which is / in the guest.
	cp -r internal/source/testdata "$root/testdata"
	mkdir -p "$root/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	chmod +x "$root/init"
	cat >"$root/vm.env" <<-EOF
		VM_NAME=$n
		TCPTOP_EXPECT_HOOKS=${offers[$n]}
		TCPTOP_EXPECT_REFUSED=${refuses[$n]}
		VM_TEST_TIMEOUT=$(timeouts "$n" test)
		VM_TEST_RUN='${RUN:-.}'
	EOF
	# VM_TEST_ENV="NAME=value ...": test switches for every test binary
	# in the guest (a developer's experiment, e.g. TCPTOP_TEST_REALTIME=0).
	for kv in ${VM_TEST_ENV:-}; do
		printf 'export %s\n' "$kv" >>"$root/vm.env"
	done
	# Uncompressed: the emulated guest would spend seconds on gunzip.
	(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) >"$work/$n.cpio"
	rm -rf "$root"
}

# timeouts NAME test|vm: go test's -test.timeout per binary, and the limit
# in seconds for the whole VM. Each VM takes five to ten minutes (the
# source tests run once per offered path, the e2e tests take four to five
# minutes under TCG; arm64 a little more); the limits keep a hung guest
# from eating CI's 90.
# The timeouts guard against a hung guest, so they sit well above the
# normal run: on 2026-12-07, with two guests on the two cores, 6.1's e2e
# binary took 474 s (8m timed out) and 6.12-arm64's first source run 582 s.
timeouts() {
	case "${arch[$1]}/$2" in
	amd64/test) echo 12m ;;
	amd64/vm) echo 1800 ;;
	arm64/test) echo 16m ;;
	arm64/vm) echo 2700 ;;
	esac
}

# boot NAME KERNEL LOG runs the VM; its console, cleaned of terminal
# escapes, goes to LOG and (without go test's === lines) to stdout.
# Two vCPUs on one host thread (thread=single): with a thread per vCPU,
# TCG once ran a stale int3 of the kernel's live patching of a static
# branch (attaching a tracepoint program) on the other vCPU, and the
# guest died ("Oops: int3" in sock_write_iter, 6.12); one thread cannot
# race its own code patching.
boot() {
	local n=$1 kernel=$2 out=$3 qemu
	case "${arch[$n]}" in
	amd64) qemu=(qemu-system-x86_64 -accel tcg,thread=single -cpu max -append "console=ttyS0 panic=-1 loglevel=4 ${VM_APPEND:-}") ;;
	# pauth-impdef: the same pointer authentication, with a hash TCG
	# computes much faster than the architected one.
	arm64) qemu=(qemu-system-aarch64 -M virt -accel tcg,thread=single -cpu max,pauth-impdef=on -append "console=ttyAMA0 panic=-1 loglevel=4 ${VM_APPEND:-}") ;;
	esac
	timeout "$(timeouts "$n" vm)" "${qemu[@]}" -smp 2 -m 2048 -nographic -no-reboot -nic none \
		-pidfile "$work/$n.pid" -kernel "$kernel" -initrd "$work/$n.cpio" </dev/null |
		sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' | tee "$out" |
		grep --line-buffered -vE '^=== (RUN|PAUSE|CONT|NAME)' || true
}

# boot_watched NAME KERNEL LOG boots the VM and waits for it; a guest that
# has not reached /init in 4 minutes (it takes seconds; once, on a host
# loaded far past its two cores, a 6.1 guest sat silent after the
# firmware) is stopped and booted once more, saying so.
boot_watched() {
	local n=$1 try pid i limit=240
	for try in 1 2; do
		rm -f "$work/$n.pid"
		boot "$@" &
		pid=$!
		for ((i = 0; i < limit; i++)); do
			grep -q 'TCPTOP-VM-KERNEL ' "$3" 2>/dev/null && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 1
		done
		if grep -q 'TCPTOP-VM-KERNEL ' "$3" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return
		fi
		log "!!! $n: the guest did not reach /init within $limit s; stopping it"
		kill "$(cat "$work/$n.pid")" 2>/dev/null || true
		wait "$pid"
		[ "$try" = 2 ] || log "!!! $n: booting it once more"
	done
}

# host_from_log NAME LOG prints what run_host prints, from LOG: the
# output of make test with TESTFLAGS=-v (.ci/run passes it as
# VM_HOST_LOG). Those are the same tests on the same kernel, with the
# same TCPTOP_EXPECT_* settings, so the host's line reports that run
# rather than running them a second time (280 s of a matrix slot); the
# walkers' run, which make test does not make, runs below as before. go
# test -p 1 prints each package's output whole, ended by its "ok" or
# "FAIL" line.
host_from_log() {
	local n=$1 logf=$2 t
	echo "TCPTOP-VM-KERNEL $n $(uname -r) $(uname -m)"
	echo "TCPTOP-VM-NOTE the tests of this line are make test's own run ($logf), not a second one"
	for t in source e2e; do
		echo "TCPTOP-VM-BEGIN $t"
		awk -v pkg="github.com/tcptop/tcptop/internal/$t" -v section="$t" '
			/^(ok  |FAIL|\?   )\t/ {
				split($0, f, "\t")
				if (f[2] == pkg) {
					for (i = 1; i <= n; i++) print buf[i]
					rc = f[1] ~ /^ok/ ? 0 : 1
					secs = f[3]; sub(/s$/, "", secs)
					found = 1
				}
				n = 0
				next
			}
			{ buf[++n] = $0 }
			END {
				if (!found) { print "--- FAIL: make test printed nothing for " pkg; rc = 1 }
				printf "TCPTOP-VM-END %s rc=%d seconds=%d\n", section, rc, secs + 0.5
			}' "$logf"
	done
}

# run_host NAME runs the same test binaries on this machine's kernel,
# printing what a VM prints.
run_host() {
	local n=$1 t start rc tests=(source e2e)
	if [ -n "${VM_HOST_LOG:-}" ]; then
		host_from_log "$n" "$VM_HOST_LOG"
		tests=()
	else
		echo "TCPTOP-VM-KERNEL $n $(uname -r) $(uname -m)"
	fi
	for t in "${tests[@]}"; do
		echo "TCPTOP-VM-BEGIN $t"
		start=$(date +%s)
		rc=0
		# From the package's directory, as go test runs it (a test reads
		# ../../README.md).
		(cd "internal/$t" && CI=true TCPTOP_EXPECT_HOOKS=${offers[$n]} TCPTOP_EXPECT_REFUSED=${refuses[$n]} TCPTOP_BIN="$work/bin/amd64/tcptop" \
			"$work/bin/amd64/$t.test" -test.run "${RUN:-.}" -test.count=1 -test.v -test.timeout=8m 2>&1) || rc=$?
		echo "TCPTOP-VM-END $t rc=$rc seconds=$(($(date +%s) - start))"
	done
	# As vm-init.sh: the source tests with the map-element iterators
	# refused; where this kernel refuses them anyway, auto ran just that.
	case ",${refuses[$n]}," in *,iter/bpf_map_elem,*)
		echo "TCPTOP-VM-NOTE this kernel refuses iter/bpf_map_elem: the source tests above ran with the walkers"
		echo "TCPTOP-VM-DONE"
		return ;;
	esac
	echo "TCPTOP-VM-BEGIN source:refuse=iter/bpf_map_elem"
	start=$(date +%s)
	rc=0
	(cd internal/source && CI=true TCPTOP_EXPECT_HOOKS=${offers[$n]} TCPTOP_TEST_REFUSE=iter/bpf_map_elem \
		"$work/bin/amd64/source.test" -test.run "${RUN:-.}" -test.skip '^(TestEveryHookPathExact|TestEveryFallbackExact)$' \
		-test.count=1 -test.v -test.timeout=8m 2>&1) || rc=$?
	echo "TCPTOP-VM-END source:refuse=iter/bpf_map_elem rc=$rc seconds=$(($(date +%s) - start))"
	echo "TCPTOP-VM-DONE"
}

# run NAME tests one kernel and prints its report; it fails if the
# kernel did. Run it in a subshell with set -e in force.
run() {
	local n=$1 dirs kdir bb out="$work/logs/$1.log"
	mkdir -p "$work/logs"
	rm -f "$out"
	echo "======== $n: ${suite[$n]} ${arch[$n]}, must offer ${offers[$n]}, must lack ${lacks[$n]}, refuses ${refuses[$n]}"
	if [ "${suite[$n]}" = host ]; then
		[ "${arch[$n]}" = "$(dpkg --print-architecture)" ] || die "$n: this host is not ${arch[$n]}"
		run_host "$n" | tee "$out" | grep --line-buffered -vE '^=== (RUN|PAUSE|CONT|NAME)'
	else
		[ -n "${kdirs[$n]:-}" ] || die "$n: its kernel could not be fetched (see above)"
		kdir=${kdirs[$n]} bb=${bbdirs[$n]}
		initramfs "$n" "$kdir" "$bb"
		log "$n: booting $(basename "$kdir") under qemu (TCG)"
		# The report below judges the run, whatever qemu's exit status.
		boot_watched "$n" "$(ls "$kdir"/boot/vmlinuz-*)" "$out"
	fi
	awk -v name="$n" -v offers="${offers[$n]}" -v lacks="${lacks[$n]}" -f scripts/vm-report.awk "$out"
}

# check_depends "PKG..." DIR... fails unless every package that the
# Depends and Pre-Depends of PKG's .debs (DIR.deb, vm-fetch.sh's unpacked
# directories) name is one of PKG or libc6: the guest would lack a
# library, and nft would not start.
check_depends() {
	local pkgs=" $1 " want=" $1 libc6 " d dep missing=
	shift
	for d in "$@"; do
		[[ "$pkgs" == *" $(dpkg-deb -f "$d.deb" Package) "* ]] || continue
		for dep in $(dpkg-deb -f "$d.deb" Depends Pre-Depends | sed -E 's/^[A-Za-z-]+: //; s/\([^)]*\)//g; s/\|[^,]*//g; s/:[a-z0-9]+//g' | tr ',' ' '); do
			[[ "$want" == *" $dep "* ]] || missing+=" $dep ($(basename "$d"))"
		done
	done
	[ -z "$missing" ] || die "the guests' userland lacks what its packages depend on:$missing (add them to nft_userland)"
}

begin=$(date +%s)
# VM_FETCH_ONLY=1: only the downloads (kernels and userland), for .ci/run
# to start them while the host's tests run: minutes of network on a new
# machine. No tools installed, nothing built, nothing booted.
fetch_only=${VM_FETCH_ONLY:-}
if [ "$fetch_only" != 1 ]; then
	install_tools
	for a in $(for n in "${selected[@]}"; do echo "${arch[$n]}"; done | sort -u); do
		build "$a"
	done
fi
declare -A times result kdirs bbdirs userdirs
failed=0
finish() { # finish NAME RC SECONDS
	times[$1]=$3
	if [ "$2" -eq 0 ]; then result[$1]=PASS; else result[$1]=FAIL failed=1; fi
	echo "======== $1: ${result[$1]} in ${times[$1]} s (log: $work/logs/$1.log)"
}
run_bg() { # in the background: the report goes to NAME.out, the status to NAME.rc
	local n=$1 start rc
	start=$(date +%s)
	set +e
	(set -e; run "$n") >"$work/logs/$n.out" 2>&1
	rc=$?
	echo "$rc $(($(date +%s) - start))" >"$work/logs/$n.rc"
}
mkdir -p "$work/logs"
# The host's line starts first, in the background, while the VMs'
# kernels download (minutes on a new machine): it takes one of the
# VM_JOBS slots until it is done.
jobs_in_order=()
for n in "${selected[@]}"; do
	[ "${suite[$n]}" = host ] && [ "$fetch_only" != 1 ] || continue
	rm -f "$work/logs/$n.rc"
	log "$n: started (this machine's kernel)"
	run_bg "$n" &
	jobs_in_order+=("$n")
done
# Downloads one after the other (the suites' apt lists are shared).
for n in "${selected[@]}"; do
	[ "${suite[$n]}" = host ] && continue
	if dirs=$(scripts/vm-fetch.sh "${suite[$n]}" "${arch[$n]}" "${pkg[$n]}" busybox-static); then
		kdirs[$n]=$(sed -n 1p <<<"$dirs") bbdirs[$n]=$(sed -n 2p <<<"$dirs")
	else
		log "!!! $n: fetching its kernel failed"
	fi
	a=${arch[$n]}
	if [ -z "${userdirs[$a]:-}" ]; then
		dirs=$(scripts/vm-fetch.sh bookworm "$a" "${userland[@]}" "${nft_userland[@]}") || die "fetching ${userland[*]} ${nft_userland[*]} for $a failed"
		check_depends "${nft_userland[*]}" $dirs
		userdirs[$a]=$(tr '\n' ' ' <<<"$dirs")
	fi
done
if [ "$fetch_only" = 1 ]; then
	log "downloads done in $(($(date +%s) - begin)) s"
	exit 0
fi
vms=()
for n in "${selected[@]}"; do
	if [ "${suite[$n]}" != host ]; then vms+=("$n"); fi
done
# Then the VMs, VM_JOBS at a time: each guest runs on one host thread
# (TCG, thread=single), so two on two cores halve the matrix's time.
# Longest first, so that the two slots end close together: arm64 guests
# run about 1.3x slower under TCG, and each offered path adds a run of the
# source tests (in list order the matrix ended 220 s later, 6.12-arm64
# starting last).
mapfile -t vms < <(for n in "${vms[@]}"; do
	paths=$(tr ',' '\n' <<<"${offers[$n]}" | grep -c .)
	echo "$([ "${arch[$n]}" = arm64 ] && echo 1 || echo 0) $paths $n"
done | sort -k1,1nr -k2,2nr -k3,3Vr | cut -d' ' -f3)
log "VMs, longest first: ${vms[*]}"
for n in "${vms[@]}"; do
	rm -f "$work/logs/$n.rc"
	while [ "$(jobs -rp | wc -l)" -ge "${VM_JOBS:-2}" ]; do wait -n || true; done
	log "$n: started"
	run_bg "$n" &
	jobs_in_order+=("$n")
done
wait || true
# Each line's output, when all are done, in the order they started.
for n in "${jobs_in_order[@]}"; do
	cat "$work/logs/$n.out" 2>/dev/null | grep -vE '^=== (RUN|PAUSE|CONT|NAME)' || true
	read -r rc secs <"$work/logs/$n.rc" 2>/dev/null || { rc=1 secs=?; }
	finish "$n" "$rc" "$secs"
done
echo "======== kernel matrix"
row() { printf '%-10s %-6s %-30s %-24s %-6s %s\n' "$@"; }
row name arch kernel "paths forced (+auto)" result seconds
for n in "${selected[@]}"; do
	release=$(sed -n 's/.*TCPTOP-VM-KERNEL [^ ]* \([^ ]*\).*/\1/p' "$work/logs/$n.log" 2>/dev/null || true)
	row "$n" "${arch[$n]}" "${release:-?}" "${offers[$n]}" "${result[$n]}" "${times[$n]}"
done
echo "total: $(($(date +%s) - begin)) s"
# Last, why each failed line failed: CI keeps only the end of its output.
for n in "${selected[@]}"; do
	[ "${result[$n]}" = FAIL ] || continue
	echo "======== why $n failed"
	grep -h '^  FAIL: ' "$work/logs/$n.out" "$work/logs/$n.log" 2>/dev/null | sort -u || true
	awk -f scripts/vm-failures.awk "$work/logs/$n.log" 2>/dev/null || true
done
exit $failed
