# shellcheck shell=bash
# The peers: reference programs that scripts/bench-peers runs beside zcbench in
# the kernel testbed VM, built by `scripts/vm build` (stage "peers") from their
# own published sources, in the build chroot, with the chroot's compiler.
# Sourced by scripts/vm, whose helpers and variables it uses.
#
#   ncdevmem       tools/testing/selftests/drivers/net/hw/ncdevmem.c of the
#                  kernel's own source package (linux-source-KMM, the upload
#                  the VM boots), with the YNL library of its tools/net/ynl,
#                  built by the selftests' Makefile
#   iou-zcrx       .../drivers/net/hw/iou-zcrx.c of the same, linked with the
#                  liburing below, plus vm/peers/iou-zcrx-long-flow.patch (see
#                  there: as published it stops after 5 s and 2 MiB)
#   liburing-zcrx  examples/zcrx.c of Debian's liburing source package, from the
#                  first of PEERS_LIBURING_SUITES that has one with that file
#                  (trixie's 2.9 has none)
#   kperf          not built: no package registry this build reaches publishes it
#
# Headers: linux-libc-dev of the same kernel upload (the uapi the peers were
# written against), unpacked beside the build, not installed in the chroot.
# Everything is linked statically: the guest runs the peers from the host's
# root, whose C library may be older than the chroot's.
#
# A peer that cannot be built (no network for a source, a compile error) is
# recorded by name with the reason in $PEERS/status and the build goes on: the
# VM stays usable, and bench-peers names the peer and skips its pairs.
# $PEERS/status lines: NAME<TAB>built<TAB>SOURCE  or  NAME<TAB>missing<TAB>REASON

PEERS=$CACHE/peers-$KERNEL_ABI
PEERS_APT=$CACHE/peers-apt
PEERS_DL=$CACHE/peers-src # downloaded source packages
PEERS_LIBURING_SUITES="forky sid"
PEERS_PATCHES=$REPO/vm/peers
KPERF_REASON="kperf (facebookexperimental/kperf) has no release archive or package: it is published only as a source repository with git submodules; Debian does not package it, and the Python registry's \"kperf\" is an unrelated kernel profiler"

# A private apt configuration for source packages of the newer suites (their
# Release files carry a Valid-Until that a mirror snapshot may have passed;
# signatures are still checked).
peers_apt_setup() {
    local uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg signed="" s
    uri=$(host_mirror)
    [ -n "$uri" ] || return 1
    [ -f "$keyring" ] && signed="[signed-by=$keyring] "
    mkdir -p "$PEERS_APT"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,state/lists/partial,cache}
    : >"$PEERS_APT/state/status"
    : >"$PEERS_APT/etc/sources.list"
    for s in $PEERS_LIBURING_SUITES; do
        printf 'deb-src %s%s %s main\n' "$signed" "$uri" "$s" >>"$PEERS_APT/etc/sources.list"
    done
    {
        echo "Dir::Etc::SourceList \"$PEERS_APT/etc/sources.list\";"
        echo "Dir::Etc::SourceParts \"$PEERS_APT/etc/sources.list.d\";"
        echo "Dir::Etc::Parts \"$PEERS_APT/etc/apt.conf.d\";"
        echo "Dir::Etc::PreferencesParts \"$PEERS_APT/etc/preferences.d\";"
        echo "Dir::State \"$PEERS_APT/state\";"
        echo "Dir::State::Lists \"$PEERS_APT/state/lists\";"
        echo "Dir::State::status \"$PEERS_APT/state/status\";"
        echo "Dir::Cache \"$PEERS_APT/cache\";"
        echo 'APT::Sandbox::User "root";'
        echo 'Acquire::Languages "none";'
        echo 'Acquire::Check-Valid-Until "false";'
        apt-config dump 2>/dev/null | grep -E '^Acquire::[a-z]+::Proxy' || true
    } >"$PEERS_APT/apt.conf"
}

# The .dsc of the liburing source package already downloaded, if any.
peers_liburing_dsc() {
    local f
    for f in "$PEERS_DL"/liburing_*.dsc; do [ -f "$f" ] && { echo "$f"; return 0; }; done
    return 1
}

# Download liburing's source package: the newest of the suites that has
# examples/zcrx.c (the suites are tried in order; the first that has one wins).
peers_fetch_liburing() {
    peers_liburing_dsc >/dev/null && return 0
    peers_apt_setup || { echo "no Debian archive in this machine's apt sources"; return 1; }
    if ! timeout --kill-after=10 180 env APT_CONFIG="$PEERS_APT/apt.conf" apt-get -q update >"$PEERS_APT/update.log" 2>&1 ||
        grep -qE '^(E:|W: (Failed|Some index))' "$PEERS_APT/update.log"; then
        echo "apt cannot read the $PEERS_LIBURING_SUITES sources: $(grep -m1 -E '^(E|W):' "$PEERS_APT/update.log" | cut -c1-120)"
        return 1
    fi
    local s tmp
    for s in $PEERS_LIBURING_SUITES; do
        tmp=$(mktemp -d "$CACHE/peers-dl.XXXXXX")
        if (cd "$tmp" && timeout --kill-after=10 300 env APT_CONFIG="$PEERS_APT/apt.conf" \
            apt-get -q source --download-only "liburing/$s" >"$PEERS_APT/download.log" 2>&1) &&
            tar -tf "$(ls "$tmp"/liburing_*.orig.tar.* | grep -v '\.asc$' | head -n1)" 2>/dev/null |
            grep '/examples/zcrx\.c$' >/dev/null; then
            mkdir -p "$PEERS_DL"
            mv "$tmp"/liburing_* "$PEERS_DL"/
            rm -rf "$tmp"
            echo "$s" >"$PEERS_DL/liburing.suite"
            rm -rf "$PEERS_APT/state/lists" "$PEERS_APT/cache"
            return 0
        fi
        rm -rf "$tmp"
    done
    echo "no liburing source package with examples/zcrx.c in $PEERS_LIBURING_SUITES (see $PEERS_APT/download.log)"
    return 1
}

# linux-libc-dev of the kernel's own upload, through scripts/vm's private apt.
peers_fetch_uapi() {
    deb_of linux-libc-dev >/dev/null && return 0
    apt_setup
    local version
    timeout --kill-after=10 180 env APT_CONFIG="$APTDIR/apt.conf" apt-get -q update >"$APTDIR/update.log" 2>&1 ||
        { echo "apt cannot read $KERNEL_SUITE (see $APTDIR/update.log)"; return 1; }
    version=$(apt_private apt-cache show "$PKG_MODULES" | awk '/^Version:/ { print $2; exit }')
    (cd "$DEBS" && timeout --kill-after=10 300 env APT_CONFIG="$APTDIR/apt.conf" \
        apt-get -q download "linux-libc-dev=$version" >"$APTDIR/download.log" 2>&1) ||
        { echo "cannot download linux-libc-dev $version from $KERNEL_SUITE (see $APTDIR/download.log)"; return 1; }
    rm -rf "$APTDIR/cache" "$APTDIR/state/lists"
    deb_of linux-libc-dev >/dev/null || { echo "apt did not download linux-libc-dev"; return 1; }
}

# peers_chroot SECS LOG CMD: run the shell command CMD in the build chroot
# (with /proc), its output appended to LOG, within SECS seconds.
peers_chroot() {
    local secs=$1 log=$2
    shift 2
    echo "== $*" >>"$log"
    # shellcheck disable=SC2016 # the inner script's variables are its arguments
    timeout --kill-after=10 "$secs" unshare --mount --fork sh -c '
        mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root \
            DEBIAN_FRONTEND=noninteractive sh -ec "$2"' _ "$BROOT" "$*" >>"$log" 2>&1
}

# The YNL code generator (tools/net/ynl) needs python3-yaml and python3-jsonschema.
peers_chroot_packages() {
    [ -f "$BROOT/usr/lib/python3/dist-packages/yaml/__init__.py" ] && [ -d "$BROOT/usr/lib/python3/dist-packages/jsonschema" ] && return 0
    peers_chroot 600 "$CACHE/peers-chroot.log" \
        "apt-get -q update && apt-get -q install -y --no-install-recommends python3-yaml python3-jsonschema"
}

# Unpack what the peers need of the kernel source and its uapi headers into
# the chroot's build directory.
peers_unpack_kernel() {
    local dir=$1 parts
    parts=(tools/testing/selftests/lib.mk tools/testing/selftests/kselftest.h
        tools/testing/selftests/kselftest_harness.h tools/testing/selftests/drivers/net/hw
        tools/testing/selftests/net/ynl.mk tools/testing/selftests/net/bpf.mk
        tools/net/ynl tools/scripts tools/include tools/build Documentation/netlink
        include/uapi MAINTAINERS) # YNL's generator finds the tree's root by MAINTAINERS (and loops without it)
    mkdir -p "$dir/linux" "$dir/uapi"
    # shellcheck disable=SC2016 # the inner script's variables are its arguments
    bash -o pipefail -c '
        dpkg-deb --fsys-tarfile "$1" | tar -xO "./usr/src/linux-source-$2.tar.xz" | xz -dc |
            tar -x -C "$3" --strip-components=1 "${@:4}"' _ \
        "$(deb_of "$PKG_SOURCE")" "$KMM" "$dir/linux" "${parts[@]/#/linux-source-$KMM/}" || return 1
    dpkg-deb -x "$(deb_of linux-libc-dev)" "$dir/uapi"
}

peers_unpack_liburing() {
    local dir=$1 dsc orig deb
    dsc=$(peers_liburing_dsc) || return 1
    orig=$(ls "$PEERS_DL"/liburing_*.orig.tar.* | grep -v '\.asc$' | head -n1)
    deb=$(ls "$PEERS_DL"/liburing_*.debian.tar.* 2>/dev/null | head -n1)
    rm -rf "$dir/liburing"
    mkdir -p "$dir/liburing"
    tar -xf "$orig" -C "$dir/liburing" --strip-components=1 || return 1
    if [ -n "$deb" ]; then
        tar -xf "$deb" -C "$dir/liburing" || return 1
        if [ -f "$dir/liburing/debian/patches/series" ]; then
            local p
            while read -r p _; do
                case "$p" in '' | '#'*) continue ;; esac
                patch -s -p1 -d "$dir/liburing" <"$dir/liburing/debian/patches/$p" || return 1
            done <"$dir/liburing/debian/patches/series"
        fi
    fi
}

# peers_record NAME built|missing SOURCE|REASON: one line of the status file.
peers_record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$PEERS/status.new"; }

stage_peers() {
    local key dsc kver_src why
    # What the build depends on: the kernel source upload, liburing's source
    # (when downloaded), this file and its patches.
    dsc=$(peers_liburing_dsc 2>/dev/null || true)
    kver_src=$(basename "$(deb_of "$PKG_SOURCE")")
    key="$kver_src $(basename "${dsc:-none}") $(hash_of "$REPO/vm/peers.sh" "$PEERS_PATCHES"/*)"
    if stamp_ok "peers-$KERNEL_ABI" "$key" && [ -f "$PEERS/status" ]; then
        STAGE_NOTE=cached
        return 0
    fi
    note "building the peers (ncdevmem, iou-zcrx, liburing's zcrx example) in the build chroot"
    rm -rf "$PEERS/bin"
    mkdir -p "$PEERS/bin"
    : >"$PEERS/status.new"
    local dir=$BROOT/build/peers log=$PEERS/build.log
    rm -rf "$dir"
    mkdir -p "$dir"
    : >"$log"

    local uapi_ok=1 yaml_ok=1 uring_ok=1 uring_why="" uapi_why=""
    uapi_why=$(peers_fetch_uapi) || uapi_ok=0
    [ "$uapi_ok" = 1 ] && { peers_unpack_kernel "$dir" >>"$log" 2>&1 || { uapi_ok=0; uapi_why="unpacking $PKG_SOURCE failed (see $log)"; }; }
    peers_chroot_packages 2>>"$log" || yaml_ok=0
    uring_why=$(peers_fetch_liburing) || uring_ok=0
    [ "$uring_ok" = 1 ] && { peers_unpack_liburing "$dir" >>"$log" 2>&1 || { uring_ok=0; uring_why="unpacking liburing's source failed (see $log)"; }; }

    local lver="" lsuite=""
    if [ "$uring_ok" = 1 ]; then
        dsc=$(peers_liburing_dsc)
        lver=$(awk '/^Version:/ { print $2; exit }' "$dsc")
        lsuite=$(cat "$PEERS_DL/liburing.suite" 2>/dev/null || echo "?")
        # liburing.a only (no shared library: the peers link it statically).
        if peers_chroot 900 "$log" \
            "cd /build/peers/liburing && ./configure --cc=gcc-14 && make -C src -j$(nproc) liburing.a &&
             make -C examples zcrx LDFLAGS=-static"; then
            cp "$dir/liburing/examples/zcrx" "$PEERS/bin/liburing-zcrx"
            peers_record liburing-zcrx built "examples/zcrx.c of liburing $lver (Debian source package, $lsuite)"
        else
            uring_ok=0
            uring_why="liburing $lver did not build (see $log)"
            peers_record liburing-zcrx missing "$uring_why"
        fi
    else
        peers_record liburing-zcrx missing "$uring_why"
    fi

    local hw=/build/peers/linux/tools/testing/selftests/drivers/net/hw
    # The selftests' Makefile, with the kernel's own uapi headers. Its check
    # for liburing (iou-zcrx) links -luring before the program, which a static
    # liburing.a cannot satisfy: HAS_IOURING_ZCRX=y says what it would find.
    # SHELL: the Makefile's liburing check and messages use `echo -e` (not dash's).
    local make_args="SHELL=/bin/bash OUTPUT=/build/peers/out KHDR_INCLUDES='-isystem /build/peers/uapi/usr/include' LDFLAGS=-static"
    local cc_uring="gcc-14 -I/build/peers/liburing/src/include -L/build/peers/liburing/src"
    local src_desc="of $kver_src (the kernel the VM boots)"
    if [ "$uapi_ok" = 0 ]; then
        peers_record ncdevmem missing "$uapi_why"
    elif [ "$yaml_ok" = 0 ]; then
        peers_record ncdevmem missing "python3-yaml (for YNL's code generator) could not be installed in the build chroot (see $CACHE/peers-chroot.log)"
    elif peers_chroot 900 "$log" "mkdir -p /build/peers/out && make -C $hw CC=gcc-14 $make_args /build/peers/out/ncdevmem"; then
        cp "$dir/out/ncdevmem" "$PEERS/bin/ncdevmem"
        peers_record ncdevmem built "tools/testing/selftests/drivers/net/hw/ncdevmem.c $src_desc"
    else
        peers_record ncdevmem missing "ncdevmem did not build (see $log)"
    fi

    if [ "$uapi_ok" = 0 ]; then
        peers_record iou-zcrx missing "$uapi_why"
    elif [ "$uring_ok" = 0 ]; then
        peers_record iou-zcrx missing "it links liburing, which is missing: $uring_why"
    else
        why=""
        local p
        for p in "$PEERS_PATCHES"/iou-zcrx-*.patch; do
            [ -f "$p" ] || continue
            patch -s -p1 -d "$dir/linux" <"$p" >>"$log" 2>&1 || why="$(basename "$p") does not apply to $kver_src"
        done
        if [ -n "$why" ]; then
            peers_record iou-zcrx missing "$why"
        elif peers_chroot 900 "$log" \
            "mkdir -p /build/peers/out && make -C $hw CC='$cc_uring' HAS_IOURING_ZCRX=y $make_args /build/peers/out/iou-zcrx"; then
            cp "$dir/out/iou-zcrx" "$PEERS/bin/iou-zcrx"
            peers_record iou-zcrx built "tools/testing/selftests/drivers/net/hw/iou-zcrx.c $src_desc + vm/peers/iou-zcrx-long-flow.patch, liburing $lver"
        else
            peers_record iou-zcrx missing "iou-zcrx did not build (see $log)"
        fi
    fi
    peers_record kperf missing "$KPERF_REASON"
    mv "$PEERS/status.new" "$PEERS/status"
    rm -rf "$dir"
    # Stamped whatever was built: a build machine without the sources does not
    # retry (and wait on apt) at every build; `scripts/vm build --force` does.
    dsc=$(peers_liburing_dsc 2>/dev/null || true)
    stamp_set "peers-$KERNEL_ABI" "$kver_src $(basename "${dsc:-none}") $(hash_of "$REPO/vm/peers.sh" "$PEERS_PATCHES"/*)"
    local missing
    missing=$(awk -F'\t' '$2 == "missing" { printf "%s%s", (n++ ? ", " : ""), $1 }' "$PEERS/status")
    [ -z "$missing" ] || note "peers not built: $missing (reasons in $PEERS/status; \`scripts/vm build --force\` tries again)"
}

# The build stage: a peer that cannot be built never fails the VM build.
stage_peers_or_note() {
    stage_peers || note "building the peers stopped (exit $?); see $PEERS/build.log: the VM is usable, bench-peers skips what is missing"
}
