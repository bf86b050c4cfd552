"""A second Docker engine of the tests' own, in a network namespace of its own.

The e2e tests need an engine with a `daemon.json` of their choosing and an engine they may
restart; the shared engine gets neither.  This dockerd has its own data root, exec root, pid
file, unix socket and config file, and runs in its own network namespace (`nsenter --net`; `ip netns exec` would hide the cgroup mounts), so
its bridges, iptables rules and address pools never meet the shared engine's.

Why a network namespace and not just another bridge: on every start after the first, dockerd
deletes the *host's* `docker0` interface when it finds its own stale default network and
`default-address-pools` is set (moby daemon_unix.go, configureNetworking:
removeDefaultBridgeInterface), and always with `--bridge=none`.  In a namespace of its own the
`docker0` it deletes and re-creates is its own.

The test process reaches the namespace over a veth pair: the host side is `HOST_IP`, the
namespace side `ENGINE_IP`, which is the address the stack publishes Prometheus on.  Images
reach the engine with `docker save | docker load` over its socket.

    engine = OwnEngine(Path("/tmp/mse"), daemon_config={"log-driver": "local"})
    engine.start(); engine.load_images([...]); ...; engine.restart(); ...; engine.stop()
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import docker

__all__ = ["OwnEngine", "OwnEngineError"]

# Candidate /16s for the veth link, the engine's bridge and its networks; the first that no
# host route covers is used.
CANDIDATE_RANGES = ("10.241.0.0/16", "10.242.0.0/16", "10.243.0.0/16", "10.244.0.0/16")


# A TCP relay (standard library): LISTEN_IP:PORT to 127.0.0.1:PORT, a connection at a time per thread.
_RELAY = r"""
import socket, sys, threading
listen, port = sys.argv[1], int(sys.argv[2])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((listen, port))
server.listen(64)
def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def handle(client):
    try:
        upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    pipe(upstream, client)
while True:
    conn, _ = server.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
"""


class OwnEngineError(RuntimeError):
    pass


def _routed_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=True).stdout
    return [ipaddress.ip_network(line.split()[0], strict=False) for line in out.splitlines()
            if line and line.split()[0] != "default"]


def free_range(candidates: Iterable[str] = CANDIDATE_RANGES) -> ipaddress.IPv4Network:
    routed = _routed_networks()
    for text in candidates:
        net = ipaddress.ip_network(text)
        if not any(net.overlaps(r) for r in routed):
            return net
    raise OwnEngineError(f"every candidate address range is routed already: {list(candidates)}")


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise OwnEngineError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


class OwnEngine:
    def __init__(self, root: Path, *, daemon_config: Optional[Mapping[str, Any]] = None, name: str = "mse") -> None:
        self.root = Path(root)
        self.name = name
        self.netns = f"{name}-{os.getpid()}"
        self.veth = f"{name}{os.getpid() % 100000}"
        self.daemon_config = dict(daemon_config or {})
        self.socket = self.root / "docker.sock"
        self.pidfile = self.root / "docker.pid"
        self.log = self.root / "dockerd.log"
        self.range: Optional[ipaddress.IPv4Network] = None
        self.proc: Optional[subprocess.Popen] = None
        self.relays: list[subprocess.Popen] = []

    # --- addresses ---------------------------------------------------------------------------

    def _subnet(self, index: int) -> ipaddress.IPv4Network:
        assert self.range is not None
        return list(self.range.subnets(new_prefix=24))[index]

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def host_ip(self) -> str:
        """The host's end of the veth link."""
        return str(self._subnet(-2)[1])

    @property
    def engine_ip(self) -> str:
        """The namespace's end of the veth link: where the tests reach published ports."""
        return str(self._subnet(-2)[2])

    @property
    def gateway(self) -> str:
        """The engine's default bridge (its `docker0`, inside the namespace)."""
        return str(self._subnet(-1)[1])

    def client(self, timeout: int = 120) -> docker.APIClient:
        return docker.APIClient(base_url=self.host, version="auto", timeout=timeout)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.range = free_range()
        _ip("netns", "add", self.netns)
        peer = f"{self.veth}n"
        _ip("link", "add", self.veth, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", self.netns)
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.veth)
        _ip("link", "set", self.veth, "up")
        _ip("-n", self.netns, "addr", "add", f"{self.engine_ip}/24", "dev", peer)
        _ip("-n", self.netns, "link", "set", peer, "up")
        _ip("-n", self.netns, "link", "set", "lo", "up")
        _ip("-n", self.netns, "route", "add", "default", "via", self.host_ip)
        config = {
            **self.daemon_config,
            "bip": f"{self.gateway}/24",
            "default-address-pools": [{"base": str(list(self.range.subnets(new_prefix=17))[0]), "size": 24}],
        }
        (self.root / "daemon.json").write_text(json.dumps(config, indent=1))
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        args = [
            "nsenter", f"--net=/run/netns/{self.netns}", "--",
            "dockerd",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'x'}",
            f"--pidfile={self.pidfile}",
            f"-H={self.host}",
            f"--config-file={self.root / 'daemon.json'}",
        ]
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise OwnEngineError(f"dockerd exited ({self.proc.returncode}); last lines of {self.log}:\n{self._tail()}")
            try:
                if self.client(timeout=5).ping():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise OwnEngineError(f"dockerd did not answer within {timeout:.0f}s:\n{self._tail()}")
            time.sleep(0.3)

    def _tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _terminate(self, timeout: float = 60) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # dockerd stops its containers, then exits
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self, timeout: float = 60) -> float:
        """Stop dockerd (its containers stop with it) and start it again; the seconds it took."""
        started = time.monotonic()
        self._terminate()
        self._launch(timeout)
        return time.monotonic() - started

    def stop(self) -> None:
        """Remove every container, stop dockerd, remove its namespace (and veth) and its files."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                api = self.client(timeout=30)
                for container in api.containers(all=True):
                    api.remove_container(container["Id"], v=True, force=True)
            except Exception:
                pass
        self._terminate()
        for relay in self.relays:
            relay.kill()
            relay.wait(timeout=10)
        self.relays = []
        if self.range is not None:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)  # takes the veth pair along
            subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
            self.range = None
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.root)], capture_output=True)

    # --- reaching a port published on the namespace's loopback --------------------------------

    def relay(self, port: int) -> str:
        """Forward ENGINE_IP:port (reachable from the host) to 127.0.0.1:port inside the namespace.

        The stack publishes on loopback by default (a non-loopback bindAddress needs a web
        password); this relay, run in the namespace, lets the tests reach it.  Its base URL.
        """
        proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.netns}", "--", "python3", "-c", _RELAY, self.engine_ip, str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.relays.append(proc)
        return f"http://{self.engine_ip}:{port}"

    # --- images ------------------------------------------------------------------------------

    def load_images(self, images: Iterable[str]) -> None:
        """Copy images from the engine DOCKER_HOST names (the shared one) into this one."""
        images = list(images)
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "-H", self.host, "load", "-q"], stdin=save.stdout, capture_output=True, text=True)
        save.stdout.close()
        if save.wait() != 0 or load.returncode != 0:
            raise OwnEngineError(f"docker save | docker load failed: {load.stderr}")
