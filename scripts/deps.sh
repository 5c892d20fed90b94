#!/usr/bin/env bash
# Installs, from Debian's apt, what a make target needs and is missing.
#   deps.sh test      tools the tests drive: ss/ip/tc, jq, mlr; the shells the
#                     completion scripts are checked in, groff for the man
#                     page; syslog-ng, systemd-analyze, man (which verify runs
#                     for the unit's man page) and strace for the recipe,
#                     service and install tests; tmux for the live screen and
#                     zsh completion tests; nft for the unreachable-connection
#                     test; setcap and setpriv to run tcptop as nobody with
#                     capabilities; prometheus and promtool for the
#                     metrics endpoint's tests (--listen)
#   deps.sh generate  the pinned eBPF toolchain: clang-19, llvm-strip-19, libbpf headers
set -euo pipefail

need=()
case "${1:-test}" in
test)
	command -v ss >/dev/null || need+=(iproute2)
	command -v tc >/dev/null || need+=(iproute2)
	command -v jq >/dev/null || need+=(jq)
	command -v mlr >/dev/null || need+=(miller)
	command -v zsh >/dev/null || need+=(zsh)
	command -v fish >/dev/null || need+=(fish)
	command -v groff >/dev/null || need+=(groff-base)
	command -v syslog-ng >/dev/null || need+=(syslog-ng-core)
	command -v systemd-analyze >/dev/null || need+=(systemd)
	command -v man >/dev/null || need+=(man-db)
	command -v strace >/dev/null || need+=(strace)
	command -v tmux >/dev/null || need+=(tmux)
	command -v nft >/dev/null || need+=(nftables)
	command -v setcap >/dev/null || need+=(libcap2-bin)
	command -v setpriv >/dev/null || need+=(util-linux)
	command -v prometheus >/dev/null || need+=(prometheus)
	command -v promtool >/dev/null || need+=(prometheus)
	;;
generate)
	command -v clang-19 >/dev/null || need+=(clang-19)
	command -v llvm-strip-19 >/dev/null || need+=(llvm-19)
	[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
	[ -f /usr/include/linux/bpf.h ] || need+=(linux-libc-dev)
	;;
*)
	echo "usage: $0 test|generate" >&2
	exit 2
	;;
esac
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
	exit 1
fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
