#!/usr/bin/env bash
# Fetches Debian packages for the test VMs and prints, one line per
# package, the directory it is unpacked in (under .vm/).
#
#   scripts/vm-fetch.sh SUITE ARCH REGEX...   newest package matching each REGEX
#
# Each suite has a private apt configuration in .vm/apt/SUITE (its own
# sources list, lists, cache and an empty dpkg status): the host's sources
# and state are never touched. The mirror is the one the host's apt already
# uses, the key Debian's archive keyring. `apt-get download` checks each
# .deb against the suite's signed index; a cached .deb is reused only while
# its SHA256 is the one that index names.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: $0 SUITE ARCH REGEX..." >&2; exit 2; }
suite=$1 arch=$2
shift 2
work="${VM_WORK:-$PWD/.vm}"
dir="$work/apt/$suite"
# Per suite: bullseye's and bookworm's busybox-static share a name.
debs="$work/debs/$suite"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
log() { printf 'vm-fetch: %s\n' "$*" >&2; }

[ -r "$keyring" ] || { log "no $keyring (apt-get install debian-archive-keyring)"; exit 1; }
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/empty" "$debs"
: >"$dir/status"

# host_uri prints the URI the host's apt fetches RELEASE from.
host_uri() {
	apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 'Identifier: Packages' |
		awk -v r="$1" '$1 == r { print $2; exit }'
}
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
main_uri=$(host_uri "$codename")
security_uri=$(host_uri "$codename-security")
[ -n "$main_uri" ] || { log "the host's apt has no source for $codename: cannot tell the Debian mirror"; exit 1; }

# Both architectures tcptop ships for, in every suite: the lists stay the
# same whichever kernel a run selects, so apt-get update only refreshes.
# A backports suite (trixie-backports) comes with its base suite, for the
# packages backports does not carry (busybox-static); only the base has a
# security suite, and sid (unstable) none. Backports' index is marked
# NotAutomatic, but a kernel package's name carries its version: it is in
# backports only, and the candidate all the same.
opts="[arch=amd64,arm64 signed-by=$keyring target=Packages]"
case "$suite" in
*-backports) base=${suite%-backports} ;;
*) base=$suite ;;
esac
{
	echo "deb $opts $main_uri $base main"
	case "$base" in
	sid | unstable | experimental) ;;
	*) [ -z "$security_uri" ] || echo "deb $opts $security_uri $base-security main" ;;
	esac
	[ "$base" = "$suite" ] || echo "deb $opts $main_uri $suite main"
} >"$dir/sources.list"
apt_opts=(
	-o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/empty"
	-o "Dir::Etc::Preferences=$dir/empty/none" -o "Dir::Etc::PreferencesParts=$dir/empty"
	-o "Dir::State=$dir" -o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status"
	-o "Dir::Cache=$dir/cache" -o "Dir::Cache::pkgcache=pkgcache.bin" -o "Dir::Cache::srcpkgcache=srcpkgcache.bin"
	-o "APT::Architecture=$(dpkg --print-architecture)" -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64"
	-o "APT::Sandbox::User=root" -o "Acquire::Languages=none"
)

# Only InRelease is fetched when nothing changed; Debian drops old kernel
# ABIs, so the index is refreshed each run.
apt-get "${apt_opts[@]}" -qq update >&2

# fetch PKG downloads PKG:ARCH's candidate into $debs unless a verified
# copy is there, and prints the .deb's path.
fetch() {
	local pkg=$1 show version sha deb
	show=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg:$arch")
	version=$(awk '/^Version:/ { print $2; exit }' <<<"$show")
	sha=$(awk '/^SHA256:/ { print $2; exit }' <<<"$show")
	[ -n "$version" ] || { log "$pkg:$arch is named in the index, but no version of it is served"; return 1; }
	deb="$debs/${pkg}_${version//:/%3a}_$arch.deb"
	if [ -f "$deb" ] && [ "$(sha256sum <"$deb" | cut -d' ' -f1)" = "$sha" ]; then
		log "$pkg:$arch $version: cached, SHA256 matches the index"
		echo "$deb"
		return
	fi
	log "downloading $pkg:$arch $version"
	(cd "$debs" && apt-get "${apt_opts[@]}" -qq download "$pkg:$arch=$version" >&2) || return 1
	[ -f "$deb" ] || { log "apt-get download did not leave $deb"; return 1; }
	# Older versions of the package are of no further use.
	find "$debs" -maxdepth 1 -name "${pkg}_*_$arch.deb" ! -path "$deb" -delete
	echo "$deb"
}

# fetch_all PKG fetches PKG and, from 6.19 on (trixie-backports, sid),
# where linux-image-* is an empty package whose dependencies hold the
# kernel, those: linux-binary-* (vmlinuz), linux-modules-*, linux-base-*
# (modules.order, modules.builtin). It prints the .debs' paths, PKG's
# first, and fails if any could not be had (the mirror listed 6.19.x
# and older 7.x images on 2026-12-06 but served only their vmlinuz).
fetch_all() {
	local deb part
	deb=$(fetch "$1") || return 1
	echo "$deb"
	for part in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' |
		sed -nE 's/^ *(linux-(binary|modules|base)-[^ ]+) \(= [^)]*\) *$/\1/p'); do
		fetch "$part" || { log "$1: its part $part could not be downloaded"; return 1; }
	done
}

for regex in "$@"; do
	# Newest first. A mirror may list a package it does not (yet) serve:
	# then the next older one, said loudly, rather than no test at all.
	mapfile -t pkgs < <(apt-cache "${apt_opts[@]}" pkgnames | grep -E "^($regex)\$" | sort -rV | head -n 5)
	[ ${#pkgs[@]} -gt 0 ] || { log "no package matching ^($regex)\$ in $suite for $arch"; exit 1; }
	got=
	for pkg in "${pkgs[@]}"; do
		got=$(fetch_all "$pkg") && break
		log "WARNING: $pkg:$arch could not be downloaded; trying the next older match"
		got=
	done
	[ -n "$got" ] || { log "none of ${pkgs[*]} could be downloaded"; exit 1; }
	mapfile -t parts <<<"$got"
	deb=${parts[0]}
	out="${deb%.deb}"
	if [ ! -f "$out/.unpacked" ]; then
		find "$(dirname "$out")" -maxdepth 1 -type d -name "${pkg}_*_$arch" ! -path "$out" -exec rm -rf {} +
		rm -rf "$out"
		for d in "${parts[@]}"; do
			dpkg-deb -x "$d" "$out"
		done
		# Merged /usr (trixie on): the kernel is usr/lib/modules/VER/vmlinuz
		# and the modules next to it. The layout of the older packages
		# (boot/vmlinuz-VER, lib/modules/VER) is what vm-test.sh, depmod
		# -b and modprobe -d read.
		if [ -d "$out/usr/lib/modules" ] && [ ! -e "$out/lib" ]; then
			ln -s usr/lib "$out/lib"
			for v in "$out"/usr/lib/modules/*/vmlinuz; do
				[ -f "$v" ] || continue
				mkdir -p "$out/boot"
				ln -s "../usr/lib/modules/$(basename "$(dirname "$v")")/vmlinuz" "$out/boot/vmlinuz-$(basename "$(dirname "$v")")"
			done
		fi
		touch "$out/.unpacked"
	fi
	echo "$out"
done
