#!/usr/bin/env bash
# Installs Debian's Rust toolchain (rustc-web, cargo-web) together with the ARM standard
# libraries the cross builds link against (libstd-rust-web-dev:arm64, :armhf), all of one
# version. Needs root and apt.
#
#   scripts/debian-rust.sh arm64 armhf    # the architectures to build for
#
# Why a script of its own: libstd-rust-web-dev is Multi-Arch: same, so Debian's compiler and
# the standard library of every installed architecture must carry the very same version.
# Mirrors do not always offer the newest version for every architecture (a security update
# may reach amd64 and arm64 while the armhf index is still syncing), and installing each at
# its own candidate version then fails, or removes the library of the other architecture.
# This picks the newest version apt offers for all of them together and installs exactly
# that, downgrading if need be, so arm64 and armhf builds work side by side whatever the
# mirror offers. Standard libraries already installed for other architectures are kept in
# step. Prints the sysroot to give /usr/bin/rustc for the architectures asked for on the last
# line (/usr unless a standard library had to be unpacked, see below).
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: scripts/debian-rust.sh ARCH..." >&2
  exit 2
fi
native=$(dpkg --print-architecture)
sysroots=${XDG_CACHE_HOME:-$HOME/.cache}/mposd-rust-sysroot
archs=("$@")
for arch in $(dpkg-query -W -f '${Architecture} ${db:Status-Status}\n' libstd-rust-web-dev 2>/dev/null |
  awk '$2 == "installed" { print $1 }'); do
  [ "$arch" = "$native" ] || archs+=("$arch")
done
for marker in "$sysroots"/*/*.unpacked; do
  if [ -e "$marker" ]; then
    marker=${marker##*/}
    archs+=("${marker%.unpacked}")
  fi
done
mapfile -t archs < <(printf '%s\n' "${archs[@]}" | sort -u)

packages=(rustc-web cargo-web "libstd-rust-web-dev:$native")
for arch in "${archs[@]}"; do
  packages+=("libstd-rust-web-dev:$arch")
done

# Versions apt offers (or has installed) for one package, one a line.
offered() {
  apt-cache policy "$1" | awk '/Version table:/ { table = 1; next }
    table && /^ (    |\*\*\* )[^ ]+ -?[0-9]+$/ { print ($1 == "***" ? $2 : $1) }'
}

# Every package needs its foreign architecture registered and the indexes to know about it.
# A partial index failure (one architecture's index mid-sync) is not fatal: the versions the
# other indexes offer are used.
update=0
for arch in "${archs[@]}"; do
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    dpkg --add-architecture "$arch"
    update=1
  fi
done
for package in "${packages[@]}"; do
  [ -n "$(offered "$package")" ] || update=1
done
if [ "$update" = 1 ]; then
  apt-get update -qq || echo "warning: some apt indexes failed to download; using the others" >&2
fi

common=$(offered "${packages[0]}" | sort -u)
for package in "${packages[@]:1}"; do
  common=$(comm -12 <(echo "$common") <(offered "$package" | sort -u))
done
version=
for candidate in $common; do
  if [ -z "$version" ] || dpkg --compare-versions "$candidate" gt "$version"; then
    version=$candidate
  fi
done
if [ -z "$version" ]; then
  echo "no Rust version is offered by apt for all of: ${packages[*]}" >&2
  exit 1
fi

# Install what apt can install consistently. A foreign standard library whose runtime
# dependencies apt cannot satisfy (their versions are Multi-Arch: same too, and the foreign
# index may lack the security update the host has) is unpacked into a private sysroot
# instead: the cross builds need only its rlibs, and apt-get download still checks it
# against the signed index.
root=$sysroots/$version
installed() { [ "$(dpkg-query -W -f '${Version} ${db:Status-Status}' "$1" 2>/dev/null)" = "$version installed" ]; }
pinned() { printf '%s\n' "${@/%/=$version}"; }
with_apt=(rustc-web cargo-web "libstd-rust-web-dev:$native")
unpack=()
for arch in "${archs[@]}"; do
  if [ -e "$root/$arch.unpacked" ]; then
    unpack+=("$arch")
  elif installed "libstd-rust-web-dev:$arch" ||
    apt-get install -s -qq --allow-downgrades $(pinned "${with_apt[@]}" "libstd-rust-web-dev:$arch") >/dev/null 2>&1; then
    with_apt+=("libstd-rust-web-dev:$arch")
  else
    unpack+=("$arch")
  fi
done

missing=()
for package in "${with_apt[@]}"; do
  installed "$package" || missing+=("$package=$version")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian's Rust $version: ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades "${missing[@]}" >/dev/null
fi

sysroot=/usr
if [ ${#unpack[@]} -gt 0 ]; then
  for arch in "$@"; do
    if printf '%s\n' "${unpack[@]}" | grep -qx "$arch"; then
      sysroot=$root/usr
    fi
  done
  for arch in "${unpack[@]}"; do
    [ -e "$root/$arch.unpacked" ] && continue
    echo "== unpacking libstd-rust-web-dev:$arch=$version into $root (apt cannot install it here)" >&2
    download=$(mktemp -d)
    (cd "$download" && apt-get download -qq "libstd-rust-web-dev:$arch=$version" 2>/dev/null)
    mkdir -p "$root"
    dpkg-deb -x "$download"/libstd-rust-web-dev_*.deb "$root"
    rm -rf "$download"
    touch "$root/$arch.unpacked"
  done
  # The host's own libraries (build scripts, proc macros) and any target apt installed.
  for dir in /usr/lib/rustlib/*; do
    [ -e "$root/usr/lib/rustlib/${dir##*/}" ] || ln -s "$dir" "$root/usr/lib/rustlib/"
  done
fi
echo "$sysroot"
