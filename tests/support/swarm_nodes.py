"""A real two-node Docker Swarm on this machine, for the swarm tests.

- manager: the shared test engine (`docker swarm init`, listening only on the gateway address
  of a bridge network of its own, never on every host address);
- worker: a second Docker engine (Debian's docker.io) in a container, image
  `monstack-local/dind:20.10` (images/build.sh dind), on that bridge network, with its
  /var/lib/docker on a volume; the local images reach it with `docker save | docker load`.

The worker container is not --privileged: this machine's capability bounding set lacks
CAP_SYS_RESOURCE, and runc refuses --privileged ("unable to apply caps: operation not
permitted"). It gets every other capability, no seccomp/AppArmor profile and unmasked /proc
paths instead (images/dind/entrypoint.sh mounts the cgroup hierarchies it needs).

Every object carries the label monstack.e2e=1. `SwarmNodes.close()` (and `swarm_nodes()` at exit)
makes the manager leave the swarm and removes the worker, its volume, the network and
`docker_gwbridge`. Run only under the engine lock (`flock /tmp/monstack-engine.lock`).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DIND_IMAGE",
    "SwarmError",
    "SwarmNodes",
    "docker",
    "leave_swarm",
    "swarm_nodes",
]

DIND_IMAGE = "monstack-local/dind:20.10"
LABEL = "monstack.e2e=1"
NETWORK = "monstack-e2e-swarm"
SUBNET = "10.213.0.0/24"
GATEWAY = "10.213.0.1"
WORKER = "monstack-e2e-worker"
WORKER_HOSTNAME = "monstack-worker"
WORKER_VOLUME = "monstack-e2e-worker-data"
# Every capability but CAP_SYS_RESOURCE, which this machine does not grant (see above).
_CAPABILITIES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE "
    "NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT "
    "SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE "
    "AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ"
).split()


class SwarmError(RuntimeError):
    pass


def docker(*args: str, input: bytes | None = None, check: bool = True, timeout: float = 120, worker: bool = False) -> str:
    """Run the docker CLI (on the worker's engine with worker=True); return stdout."""
    argv = ["docker", "exec", "-i", WORKER, "docker", *args] if worker else ["docker", *args]
    result = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
    if check and result.returncode != 0:
        raise SwarmError(f"{' '.join(argv)}: exit {result.returncode}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode(errors="replace")


def _wait(what: str, predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (SwarmError, subprocess.TimeoutExpired) as err:
            last = err
        time.sleep(interval)
    raise SwarmError(f"{what} within {timeout}s; last: {last}")


def leave_swarm() -> None:
    """Undo everything this module makes, whatever state an earlier run left."""
    docker("rm", "-f", "-v", WORKER, check=False)
    docker("swarm", "leave", "--force", check=False)
    docker("network", "rm", NETWORK, check=False)
    # Left behind by `swarm init`; removed only when no container uses it.
    docker("network", "rm", "docker_gwbridge", check=False)
    docker("volume", "rm", WORKER_VOLUME, check=False)


@dataclass
class SwarmNodes:
    manager_id: str
    manager_hostname: str
    worker_id: str = ""
    worker_hostname: str = WORKER_HOSTNAME
    loaded_images: list[str] = field(default_factory=list)

    @property
    def hostnames(self) -> list[str]:
        return [self.manager_hostname, self.worker_hostname]

    def nodes(self) -> list[dict]:
        """`docker node inspect` of every node."""
        ids = docker("node", "ls", "-q").split()
        return json.loads(docker("node", "inspect", *ids)) if ids else []

    def node_states(self) -> dict[str, str]:
        return {n["Description"]["Hostname"]: n["Status"]["State"] for n in self.nodes()}

    def stop_worker(self) -> None:
        docker("stop", "-t", "30", WORKER)
        _wait("the manager sees the worker down", lambda: self.node_states().get(self.worker_hostname) == "down", 90)

    def start_worker(self) -> None:
        docker("start", WORKER)
        _wait("the worker's engine answers", lambda: docker("info", "--format", "{{.Swarm.LocalNodeState}}", worker=True).strip() == "active", 90)
        _wait("the manager sees the worker ready", lambda: self.node_states().get(self.worker_hostname) == "ready", 90)

    def load_images(self, images: Sequence[str]) -> None:
        """Copy local images into the worker (no registry here): docker save | docker load."""
        for image in images:
            save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
            load = subprocess.run(["docker", "exec", "-i", WORKER, "docker", "load", "-q"], stdin=save.stdout, capture_output=True, timeout=300)
            save.stdout.close()
            if save.wait() != 0 or load.returncode != 0:
                raise SwarmError(f"loading {image} into the worker failed: {load.stderr.decode(errors='replace')}")
            self.loaded_images.append(image)

    def close(self) -> None:
        leave_swarm()


def _start_worker() -> None:
    caps = [arg for cap in _CAPABILITIES for arg in ("--cap-add", cap)]
    docker(
        "run", "-d", "--name", WORKER, "--hostname", WORKER_HOSTNAME, "--label", LABEL,
        *caps,
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm",
        "--network", NETWORK, "-v", f"{WORKER_VOLUME}:/var/lib/docker",
        DIND_IMAGE,
    )

    def answers() -> bool:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", WORKER))
        if not state["Running"]:
            raise SwarmError(f"worker exited: {docker('logs', '--tail', '30', WORKER, check=False)}")
        return docker("info", "--format", "{{.ServerVersion}}", worker=True, check=False).strip() != ""

    _wait("the worker's engine answers", answers, 60)


def create_swarm(images: Sequence[str] = ()) -> SwarmNodes:
    """Manager + one worker joined, `images` loaded on the worker. Raises SwarmError with the cause."""
    leave_swarm()
    docker("network", "create", "--label", LABEL, "--subnet", SUBNET, "--gateway", GATEWAY, NETWORK)
    # The swarm's ports (2377 control, 7946 gossip, 4789/udp VXLAN) on this gateway only.
    docker("swarm", "init", "--advertise-addr", GATEWAY, "--listen-addr", f"{GATEWAY}:2377")
    info = json.loads(docker("info", "--format", "{{json .}}"))
    nodes = SwarmNodes(manager_id=info["Swarm"]["NodeID"], manager_hostname=info["Name"])
    _start_worker()
    nodes.load_images(images)
    token = docker("swarm", "join-token", "-q", "worker").strip()
    docker("swarm", "join", "--token", token, f"{GATEWAY}:2377", worker=True)
    nodes.worker_id = docker("info", "--format", "{{.Swarm.NodeID}}", worker=True).strip()
    _wait("both nodes ready", lambda: sorted(nodes.node_states().values()) == ["ready", "ready"], 60)
    return nodes


@contextlib.contextmanager
def swarm_nodes(images: Sequence[str] = ()) -> Iterator[SwarmNodes]:
    nodes = None
    try:
        nodes = create_swarm(images)
        yield nodes
    finally:
        leave_swarm()
