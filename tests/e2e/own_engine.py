"""A second Docker engine of the tests' own, beside the shared one, for what the shared one must not see.

The e2e tests need an engine with a `daemon.json` of their choosing and an engine they may
restart; the shared engine gets neither.  This dockerd has its own data root, exec root, pid
file and unix socket, its own default bridge (a bridge interface made for it, with an address
range no other interface routes), its own address pools for user networks, and no iptables
rules (`--iptables=false`: published ports go through docker-proxy), so it touches nothing of
the shared engine's.  Images reach it with `docker save | docker load`.

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

# Candidate /16s for the engine's bridge and networks; the first that no route covers is used.
CANDIDATE_RANGES = ("10.241.0.0/16", "10.242.0.0/16", "10.243.0.0/16", "10.244.0.0/16")


class OwnEngineError(RuntimeError):
    pass


def _routed_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=True).stdout
    nets = []
    for line in out.splitlines():
        first = line.split()[0]
        if first != "default":
            nets.append(ipaddress.ip_network(first, strict=False))
    return nets


def free_range(candidates: Iterable[str] = CANDIDATE_RANGES) -> ipaddress.IPv4Network:
    routed = _routed_networks()
    for text in candidates:
        net = ipaddress.ip_network(text)
        if not any(net.overlaps(r) for r in routed):
            return net
    raise OwnEngineError(f"every candidate address range is routed already: {list(candidates)}")


class OwnEngine:
    def __init__(self, root: Path, *, daemon_config: Optional[Mapping[str, Any]] = None, name: str = "mse") -> None:
        self.root = Path(root)
        self.name = name
        self.daemon_config = dict(daemon_config or {})
        self.socket = self.root / "docker.sock"
        self.pidfile = self.root / "docker.pid"
        self.log = self.root / "dockerd.log"
        self.bridge = f"{name}br0"
        self.range: Optional[ipaddress.IPv4Network] = None
        self.proc: Optional[subprocess.Popen] = None

    # --- addresses ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def gateway(self) -> str:
        """The default bridge's address on the host (this engine's `docker0` gateway)."""
        assert self.range is not None
        return str(list(self.range.subnets(new_prefix=24))[-1][1])

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def client(self, timeout: int = 120) -> docker.APIClient:
        return docker.APIClient(base_url=self.host, version="auto", timeout=timeout)

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """The docker CLI against this engine."""
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True, **kwargs)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.range is None:
            self.range = free_range()
            bridge_net = list(self.range.subnets(new_prefix=24))[-1]
            subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
            subprocess.run(["ip", "addr", "add", f"{self.gateway}/{bridge_net.prefixlen}", "dev", self.bridge], check=True)
            subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
            pools_net = list(self.range.subnets(new_prefix=17))[0]
            config = {
                **self.daemon_config,
                "default-address-pools": [{"base": str(pools_net), "size": 24}],
            }
            (self.root / "daemon.json").write_text(json.dumps(config, indent=1))
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        args = [
            "dockerd",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'x'}",
            f"--pidfile={self.pidfile}",
            f"-H={self.host}",
            f"--config-file={self.root / 'daemon.json'}",
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
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
        """Remove every container, stop dockerd, remove its bridge and its files."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                api = self.client(timeout=30)
                for container in api.containers(all=True):
                    api.remove_container(container["Id"], v=True, force=True)
                for net in api.networks():
                    if net["Name"] not in ("bridge", "host", "none"):
                        api.remove_network(net["Id"])  # its bridge interface would outlive dockerd
            except Exception:
                pass
        self._terminate()
        if self.range is not None:
            subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
            self.range = None
        # The data root holds overlay mounts only while dockerd runs; it is gone now.
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.root)], capture_output=True)

    # --- images ------------------------------------------------------------------------------

    def load_images(self, images: Iterable[str]) -> None:
        """Copy images from the engine DOCKER_HOST names (the shared one) into this one."""
        images = list(images)
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "-H", self.host, "load", "-q"], stdin=save.stdout, capture_output=True, text=True)
        save.stdout.close()
        if save.wait() != 0 or load.returncode != 0:
            raise OwnEngineError(f"docker save | docker load failed: {load.stderr}")
