#!/bin/sh
# Entrypoint of monstack-local/dind: a Docker engine inside a container, used as a second swarm
# node by the tests (tests/support/swarm_nodes.py).
#
# The container is not --privileged: this machine's capability bounding set lacks
# CAP_SYS_RESOURCE, and --privileged asks for every capability (runc: "unable to apply caps:
# operation not permitted"). It runs with the other capabilities instead, and Docker then
# mounts the cgroup hierarchies read-only (as for any unprivileged container). The engine inside
# must create cgroups for its own containers, so mount every cgroup v1 hierarchy afresh
# (CAP_SYS_ADMIN allows it), read-write, with the controllers /proc/self/cgroup lists.
set -eu

if [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
    mount -o remount,rw /sys 2>/dev/null || true
    # Unmount Docker's read-only views first: runc reads /proc/self/mountinfo and would take a
    # hidden (overmounted) one, whose root is this container's cgroup, for the hierarchy.
    for dir in $(awk '$2 ~ "^/sys/fs/cgroup/" {print $2}' /proc/self/mounts | sort -r); do
        umount "$dir"
    done
    umount /sys/fs/cgroup
    mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
    # lines "ID:CONTROLLERS:PATH"; "0::/" is the unified (cgroup2) hierarchy of a hybrid host,
    # which runc expects at /sys/fs/cgroup/unified
    cut -d: -f2 /proc/self/cgroup | while IFS= read -r controllers; do
        if [ -z "$controllers" ]; then
            mkdir -p /sys/fs/cgroup/unified
            mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
            continue
        fi
        case "$controllers" in
        name=*) dir=${controllers#name=}; options="none,$controllers" ;;
        *) dir=$controllers; options=$controllers ;;
        esac
        mkdir -p "/sys/fs/cgroup/$dir"
        mount -t cgroup -o "$options" cgroup "/sys/fs/cgroup/$dir"
        # cpu,cpuacct is also reachable as cpu and cpuacct (as on the host)
        for single in $(echo "$dir" | tr , ' '); do
            [ "$single" = "$dir" ] || ln -sfn "$dir" "/sys/fs/cgroup/$single"
        done
    done
fi

# Bind mounts with rslave propagation (node exporter's view of the host's /) need / to be a
# shared mount, as systemd makes it on a host (a container's / is private).
mount --make-rshared /

exec /usr/bin/tini -- /usr/sbin/dockerd "$@"
