#!/bin/bash
# Build the local images the `ci` stack (Pulumi.ci.yaml) deploys, from Debian's packages.
# No image registry is reachable here, so every image is assembled from a root filesystem
# and imported with `docker import`.
#
#   images/build.sh                 build every image (skips the ones already built from the same inputs)
#   images/build.sh prometheus ...  build only the named ones
#   images/build.sh --list          print the tags this script makes
#
# Each image carries the label monstack.inputs-sha256 (a hash of this script, the image's
# own files and the exact Debian binaries or app sources it contains); a tag that exists with
# the same label is not rebuilt. MONSTACK_IMAGES_FORCE=1 rebuilds anyway.
# The debootstrap base of the helpdesk image is cached as a tarball in
# ${MONSTACK_IMAGE_CACHE:-/var/cache/monstack-images} (it takes about a minute to make).
#
# Needs: docker (engine running), busybox-static, prometheus, prometheus-node-exporter,
# prometheus-mongodb-exporter, prometheus-alertmanager, debootstrap, Python 3.11 with pip ($PYTHON, default python3). Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${MONSTACK_IMAGE_CACHE:-/var/cache/monstack-images}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
force=${MONSTACK_IMAGES_FORCE:-0}
python=${PYTHON:-python3}  # a Python 3.11 with pip (the tests pass their own interpreter)
label=monstack.inputs-sha256

PROMETHEUS_TAG=monstack-local/prometheus:2.42.0
PROMETHEUS_B_TAG=monstack-local/prometheus:2.42.0-b
NODE_EXPORTER_TAG=monstack-local/node-exporter:1.5.0
MONGODB_EXPORTER_TAG=monstack-local/mongodb-exporter:1.0.0
HELPDESK_TAG=monstack-local/helpdesk:0.1.0
ALERTMANAGER_TAG=monstack-local/alertmanager:0.25.0
DIND_TAG=monstack-local/dind:20.10
ALL=(prometheus node-exporter mongodb-exporter helpdesk alertmanager dind)

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_file() { [ -e "$1" ] || die "$1 is missing (apt-get install -y $2)"; }

# sha256 of a list of files and strings given on stdin, one per line ("file:PATH" or text)
inputs_hash() {
    local line
    {
        sha256sum "$0" | cut -d' ' -f1
        while IFS= read -r line; do
            case "$line" in
            file:*) sha256sum "${line#file:}" | cut -d' ' -f1 ;;
            *) printf '%s\n' "$line" ;;
            esac
        done
    } | sha256sum | cut -d' ' -f1
}

current_hash() { docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }

up_to_date() {
    local tag=$1 hash=$2
    [ "$force" != 1 ] && [ "$(current_hash "$tag")" = "$hash" ]
}

# A root filesystem skeleton shaped like the busybox-based prom/* images: busybox for sh and
# wget (healthchecks), /etc/passwd with nobody (65534), a world-writable /tmp.
skeleton() {
    local root=$1 applet
    mkdir -p "$root"/{bin,etc,tmp,lib/x86_64-linux-gnu,lib64}
    chmod 1777 "$root/tmp"
    cp /usr/bin/busybox "$root/bin/busybox"
    for applet in sh wget cat ls echo env id ps sleep grep head tail mkdir rm nc du df; do
        ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
    printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# Copy a dynamically linked binary and the libraries ldd lists.
add_binary() {
    local root=$1 src=$2 dst=$3 lib
    install -m 0755 "$src" "$root$dst"
    for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

import_rootfs() {
    local root=$1 tag=$2 hash=$3
    shift 3
    local changes=(-c "LABEL $label=$hash" -c "LABEL org.opencontainers.image.source=monstack/images/build.sh")
    local c
    for c in "$@"; do changes+=(-c "$c"); done
    local previous
    previous=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
    tar --numeric-owner -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
    # The image this tag named before is now untagged: remove it unless a container still uses it.
    if [ -n "$previous" ] && [ "$(docker image inspect --format '{{len .RepoTags}}' "$previous" 2>/dev/null)" = 0 ]; then
        docker rmi "$previous" >/dev/null 2>&1 || true
    fi
    log "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

build_prometheus() {
    need_file /usr/bin/prometheus prometheus
    need_file /usr/bin/busybox busybox-static
    local hash hash_b
    hash=$(printf 'prometheus\nfile:/usr/bin/prometheus\nfile:/usr/bin/promtool\nfile:/usr/bin/busybox\n' | inputs_hash)
    hash_b=$(printf '%s\nvariant b\n' "$hash" | sha256sum | cut -d' ' -f1)
    if up_to_date "$PROMETHEUS_TAG" "$hash" && up_to_date "$PROMETHEUS_B_TAG" "$hash_b"; then
        log "$PROMETHEUS_TAG and $PROMETHEUS_B_TAG are up to date"; return
    fi
    local root
    root=$(mktemp -d)
    skeleton "$root"
    add_binary "$root" /usr/bin/prometheus /bin/prometheus
    add_binary "$root" /usr/bin/promtool /bin/promtool
    mkdir -p "$root/etc/prometheus" "$root/prometheus"
    cat >"$root/etc/prometheus/prometheus.yml" <<'YAML'
# Default configuration of the image (the stack uploads its own).
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
YAML
    chown -R 65534:65534 "$root/etc/prometheus" "$root/prometheus"
    chmod 0775 "$root/prometheus"
    # Shaped like prom/prometheus: runs as nobody, TSDB in /prometheus (a declared volume).
    local common=(
        'USER nobody' 'WORKDIR /prometheus' 'EXPOSE 9090' 'VOLUME ["/prometheus"]'
        'ENTRYPOINT ["/bin/prometheus"]'
        'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'
    )
    import_rootfs "$root" "$PROMETHEUS_TAG" "$hash" "${common[@]}"
    # The same program under a second tag with another image id, so that a test can move the
    # stack between two local images.
    import_rootfs "$root" "$PROMETHEUS_B_TAG" "$hash_b" "${common[@]}" 'LABEL monstack.variant=b'
    rm -rf "$root"
}

build_node_exporter() {
    need_file /usr/bin/prometheus-node-exporter prometheus-node-exporter
    local hash root
    hash=$(printf 'node-exporter\nfile:/usr/bin/prometheus-node-exporter\nfile:/usr/bin/busybox\n' | inputs_hash)
    if up_to_date "$NODE_EXPORTER_TAG" "$hash"; then log "$NODE_EXPORTER_TAG is up to date"; return; fi
    root=$(mktemp -d)
    skeleton "$root"
    add_binary "$root" /usr/bin/prometheus-node-exporter /bin/node_exporter
    # Shaped like prom/node-exporter.
    import_rootfs "$root" "$NODE_EXPORTER_TAG" "$hash" 'USER nobody' 'EXPOSE 9100' 'ENTRYPOINT ["/bin/node_exporter"]'
    rm -rf "$root"
}

build_mongodb_exporter() {
    need_file /usr/bin/prometheus-mongodb-exporter prometheus-mongodb-exporter
    local hash root
    hash=$(printf 'mongodb-exporter\nfile:/usr/bin/prometheus-mongodb-exporter\nfile:/usr/bin/busybox\nfile:%s\n' \
        "$here/mongodb-exporter/entrypoint.sh" | inputs_hash)
    if up_to_date "$MONGODB_EXPORTER_TAG" "$hash"; then log "$MONGODB_EXPORTER_TAG is up to date"; return; fi
    root=$(mktemp -d)
    skeleton "$root"
    add_binary "$root" /usr/bin/prometheus-mongodb-exporter /bin/mongodb_exporter
    # Entrypoint at the path of the percona image's binary, mapping its flags (see the script).
    install -m 0755 "$here/mongodb-exporter/entrypoint.sh" "$root/mongodb_exporter"
    import_rootfs "$root" "$MONGODB_EXPORTER_TAG" "$hash" 'USER nobody' 'EXPOSE 9216' 'ENTRYPOINT ["/mongodb_exporter"]'
    rm -rf "$root"
}

build_alertmanager() {
    need_file /usr/bin/prometheus-alertmanager prometheus-alertmanager
    need_file /usr/bin/busybox busybox-static
    local hash root
    # Debian's build reads its notification templates (and the UI) from this directory, where the
    # upstream binary embeds them.
    local share=/usr/share/prometheus/alertmanager
    need_file "$share/default.tmpl" prometheus-alertmanager
    hash=$({
        printf 'alertmanager\nfile:/usr/bin/prometheus-alertmanager\nfile:/usr/bin/amtool\nfile:/usr/bin/busybox\n'
        find "$share" -type f | LC_ALL=C sort | sed 's/^/file:/'
    } | inputs_hash)
    if up_to_date "$ALERTMANAGER_TAG" "$hash"; then log "$ALERTMANAGER_TAG is up to date"; return; fi
    root=$(mktemp -d)
    skeleton "$root"
    add_binary "$root" /usr/bin/prometheus-alertmanager /bin/alertmanager
    add_binary "$root" /usr/bin/amtool /bin/amtool
    mkdir -p "$root/etc/alertmanager" "$root/alertmanager" "$root/usr/share/prometheus"
    cp -a "$share" "$root/usr/share/prometheus/alertmanager"
    cat >"$root/etc/alertmanager/alertmanager.yml" <<'YAML'
# Default configuration of the image (the stack uploads its own).
route:
  receiver: discard
receivers:
  - name: discard
YAML
    chown -R 65534:65534 "$root/etc/alertmanager" "$root/alertmanager"
    chmod 0775 "$root/alertmanager"
    # Shaped like prom/alertmanager: runs as nobody, silences and notification log in
    # /alertmanager (a declared volume), its entrypoint and command.
    import_rootfs "$root" "$ALERTMANAGER_TAG" "$hash" \
        'USER nobody' 'WORKDIR /alertmanager' 'EXPOSE 9093' 'VOLUME ["/alertmanager"]' \
        'ENTRYPOINT ["/bin/alertmanager"]' \
        'CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]'
    rm -rf "$root"
}

# debootstrap --variant=minbase bookworm + python3, as a cached tarball.
helpdesk_base() {
    local base="$cache/bookworm-minbase-python3.tar"
    if [ ! -s "$base" ]; then
        command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install -y debootstrap)"
        mkdir -p "$cache"
        local dir
        dir=$(mktemp -d "$cache/debootstrap.XXXXXX")
        log "debootstrap bookworm into $dir (about a minute)"
        debootstrap --variant=minbase --include=python3 bookworm "$dir" "$mirror" >"$dir.log" 2>&1 \
            || { tail -n 20 "$dir.log" >&2; die "debootstrap failed (log: $dir.log)"; }
        # Keep the image small-ish: no apt lists, caches, docs or locales.
        rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
            "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* "$dir"/var/log/*
        tar --numeric-owner -C "$dir" -cf "$base.tmp" .
        mv "$base.tmp" "$base"
        rm -rf "$dir" "$dir.log"
    fi
    printf '%s\n' "$base"
}

build_helpdesk() {
    local app="$repo/examples/helpdesk"
    [ -f "$app/app.py" ] || die "$app/app.py is missing"
    local base hash root files
    [ "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = 3.11 ] \
        || die "$python is not Python 3.11, the python3 of Debian 12 inside the image (set PYTHON=...)"
    base=$(helpdesk_base)
    files=$(cd "$repo" && find examples/helpdesk backend_metrics -name '*.py' -type f | LC_ALL=C sort)
    hash=$({
        printf 'helpdesk\nbase:%s\nfile:%s\n' "$(stat -c '%s %Y' "$base")" "$here/helpdesk/requirements.txt"
        for f in "$repo"/requirements*.txt; do [ -f "$f" ] && printf 'file:%s\n' "$f"; done
        "$python" -m pip --version | cut -d' ' -f1,2
        for f in $files; do printf '%s\nfile:%s\n' "$f" "$repo/$f"; done
    } | inputs_hash)
    if up_to_date "$HELPDESK_TAG" "$hash"; then log "$HELPDESK_TAG is up to date"; return; fi
    root=$(mktemp -d)
    tar -C "$root" -xf "$base"
    # The base's python3 is Debian's 3.11, the same minor version as the building python3, so
    # wheels resolved here (with this machine's pip constraints) run inside the image.
    local site="$root/usr/local/lib/python3.11/dist-packages"
    mkdir -p "$site"
    # (--target: pip's "dependency conflicts" notes about the building environment do not apply)
    # The project's pins (requirements*.txt, `name==version` lines) constrain the versions, so the
    # image runs what the rest of the test suite runs.
    cat "$repo"/requirements*.txt 2>/dev/null | grep -E '^[A-Za-z0-9_.-]+==' >"$root.constraints.txt" || true
    "$python" -m pip install --quiet --no-compile --no-warn-conflicts --disable-pip-version-check \
        -c "$root.constraints.txt" --target "$site" -r "$here/helpdesk/requirements.txt" >"$root.pip.log" 2>&1 \
        || { tail -n 30 "$root.pip.log" >&2; die "pip install of images/helpdesk/requirements.txt failed"; }
    rm -f "$root.pip.log" "$root.constraints.txt"
    mkdir -p "$root/app"
    for f in $files; do install -D -m 0644 "$repo/$f" "$root/app/$f"; done
    import_rootfs "$root" "$HELPDESK_TAG" "$hash" 'USER nobody' 'WORKDIR /app' 'EXPOSE 8000' \
        'ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1' \
        'ENTRYPOINT ["python3", "-m", "uvicorn", "examples.helpdesk.app:app", "--host", "0.0.0.0", "--port", "8000"]'
    rm -rf "$root"
}

# A second Docker engine for the swarm tests (a worker node): Debian's docker.io on the cached
# minbase root filesystem, run --privileged with its /var/lib/docker on a volume. The root
# filesystem is cached as a tarball too (apt-get in a chroot takes a minute or two).
dind_rootfs() {
    local rootfs="$cache/bookworm-docker.io.tar"
    if [ ! -s "$rootfs" ]; then
        local base dir
        base=$(helpdesk_base)
        dir=$(mktemp -d "$cache/dind.XXXXXX")
        tar -C "$dir" -xf "$base"
        cp /etc/resolv.conf "$dir/etc/resolv.conf"
        # No service starts inside the chroot.
        printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
        chmod 0755 "$dir/usr/sbin/policy-rc.d"
        mount -t proc proc "$dir/proc"
        log "apt-get install docker.io into $dir (a minute or two)"
        if ! chroot "$dir" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends docker.io iptables ca-certificates procps iproute2' >"$dir.log" 2>&1; then
            umount "$dir/proc"; tail -n 30 "$dir.log" >&2; die "apt-get install docker.io failed (log: $dir.log)"
        fi
        umount "$dir/proc"
        rm -f "$dir/usr/sbin/policy-rc.d" "$dir/etc/resolv.conf"
        rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/var/log/*
        tar --numeric-owner -C "$dir" -cf "$rootfs.tmp" .
        mv "$rootfs.tmp" "$rootfs"
        rm -rf "$dir" "$dir.log"
    fi
    printf '%s\n' "$rootfs"
}

build_dind() {
    local rootfs hash root
    rootfs=$(dind_rootfs)
    hash=$(printf 'dind\nrootfs:%s\nfile:%s\n' "$(stat -c '%s %Y' "$rootfs")" "$here/dind/entrypoint.sh" | inputs_hash)
    if up_to_date "$DIND_TAG" "$hash"; then log "$DIND_TAG is up to date"; return; fi
    root=$(mktemp -d)
    tar -C "$root" -xf "$rootfs"
    install -m 0755 "$here/dind/entrypoint.sh" "$root/usr/local/bin/dind-entrypoint"
    # tini reaps; dockerd runs in the foreground and starts its own containerd. The entrypoint
    # mounts the cgroup hierarchies the engine needs (see images/dind/entrypoint.sh).
    import_rootfs "$root" "$DIND_TAG" "$hash" 'VOLUME ["/var/lib/docker"]' \
        'ENTRYPOINT ["/usr/local/bin/dind-entrypoint"]' 'CMD ["--host=unix:///var/run/docker.sock"]'
    rm -rf "$root"
}

main() {
    if [ "${1:-}" = --list ]; then
        printf '%s\n' "$PROMETHEUS_TAG" "$PROMETHEUS_B_TAG" "$NODE_EXPORTER_TAG" "$MONGODB_EXPORTER_TAG" "$HELPDESK_TAG" "$ALERTMANAGER_TAG" "$DIND_TAG"
        return
    fi
    docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/docker-engine start DIR)"
    local names=("$@") name start
    [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
    for name in "${names[@]}"; do
        start=$(date +%s)
        case "$name" in
        prometheus) build_prometheus ;;
        node-exporter) build_node_exporter ;;
        mongodb-exporter) build_mongodb_exporter ;;
        helpdesk) build_helpdesk ;;
        alertmanager) build_alertmanager ;;
        dind) build_dind ;;
        *) die "unknown image $name (one of: ${ALL[*]})" ;;
        esac
        log "$name: $(($(date +%s) - start))s"
    done
}

main "$@"
