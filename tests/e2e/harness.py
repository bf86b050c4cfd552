"""A test stand-in for `pulumi up` / `pulumi destroy` with the pulumi-docker provider.

Neither the Pulumi CLI nor its Docker provider plugin installs here, so this module runs the
real `__main__.py` under Pulumi's mocks (`pulumi.runtime.set_mocks`, as `pulumi up` would run
it: same config, `preview=False`) and its `Mocks.new_resource` does on a real Docker engine
what the provider would do with the exact inputs the program registered, in the order Pulumi
resolves them.

It keeps what the real provider keeps: after each create (and each refresh) the resource's
*state* as the provider's Read function writes it from `docker inspect` (tests/support/
provider_state.py, after kreuzwerker/terraform-provider-docker), and the next deploy diffs the
new inputs against that state with the provider's ForceNew and update rules: unchanged resources
are left alone, containers whose replace-forcing attributes differ are replaced
(delete-before-replace when the program asks for it), `restart`/`memory`/`memorySwap`/... are
updated in place, other attributes (healthcheck, wait, ...) only in the state unless
`replaceOnChanges` names them, `ignoreChanges` drops attributes from the diff, and resources no
longer declared are deleted (volumes with `retainOnDelete` are kept).  `refresh=True` reads every
resource back first, as `pulumi up --refresh` does: a container removed by hand is dropped from
the state and created again; without refresh it is left alone (and the harness says so in
`Result.warnings`, which the real CLI does not).  What it does not cover: docs/e2e.md.

Each deployment runs in a fresh Python process (`python -m tests.e2e.harness`), so Pulumi's
process-wide runtime state never leaks from one run into the next.  The engine is the one
`DOCKER_HOST` names (Docker SDK for Python, as the CLI would).

    from tests.e2e import harness
    result = harness.deploy(config, secrets={"mongodbUri": "..."}, state_dir=tmp, refresh=False)
    result.actions  # [{"urn", "type", "name", "op": "create|replace|update|same|delete|retain", "diff": [...]}]
    harness.destroy(state_dir=tmp)
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets as _secrets
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import docker
import yaml
from docker.errors import APIError, NotFound

from tests.support import provider_state as ps
from . import swarm_provider

__all__ = ["DeployError", "Result", "REPO", "ci_config", "client", "deploy", "destroy", "HARNESS_LABEL"]

REPO = Path(__file__).resolve().parents[2]
HARNESS_LABEL = "monstack.e2e"  # added to every object the harness creates (cleanup of leftovers)
NETWORK_READ_DELAY_S = 2.0  # terraform-provider-docker's networkReadRefreshDelay

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"

IMAGE_UPDATABLE = {"keepLocally", "forceRemove", "pullTriggers", "triggers"}


class DeployError(RuntimeError):
    pass


@dataclass
class Result:
    actions: list[dict] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def ops(self, op: str) -> list[dict]:
        return [a for a in self.actions if a["op"] == op]

    @property
    def changed(self) -> list[dict]:
        """Every action that touched the engine or the state."""
        return [a for a in self.actions if a["op"] not in ("same", "read", "refresh")]


def client(timeout: float = 120) -> docker.APIClient:
    """The Docker Engine API client for DOCKER_HOST (or the local socket), API version negotiated."""
    return docker.from_env(version="auto", timeout=int(timeout)).api


# --- public API (runs in the test process) --------------------------------------------------------


def ci_config(path: Path = REPO / "Pulumi.ci.yaml") -> dict[str, Any]:
    """The `config:` of a stack file, keys as written (`monstack:prometheus`), values as YAML gives them."""
    return dict(yaml.safe_load(path.read_text())["config"])


def deploy(
    config: Mapping[str, Any],
    *,
    secrets: Mapping[str, str] = {},
    state_dir: Path,
    stack: str = "ci",
    program: Path = REPO / "__main__.py",
    refresh: bool = False,
    docker_host: Optional[str] = None,
    timeout: float = 600,
) -> Result:
    """`pulumi up` (with `--refresh` when asked) of `program` with this config; raises DeployError on failure."""
    request = {
        "command": "deploy",
        "config": dict(config),
        "secrets": dict(secrets),
        "stack": stack,
        "program": str(program),
        "refresh": bool(refresh),
        "state": str(Path(state_dir) / "state.json"),
    }
    return _run(request, state_dir, timeout, docker_host)


def destroy(*, state_dir: Path, docker_host: Optional[str] = None, timeout: float = 300) -> Result:
    """`pulumi destroy`: delete what the state holds, in reverse order, keeping retained volumes."""
    return _run({"command": "destroy", "state": str(Path(state_dir) / "state.json")}, state_dir, timeout, docker_host)


def _run(request: dict, state_dir: Path, timeout: float, docker_host: Optional[str] = None) -> Result:
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    request_file = state_dir / "request.json"
    result_file = state_dir / "result.json"
    request["result"] = str(result_file)
    request_file.write_text(json.dumps(request))
    result_file.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if docker_host:
        env["DOCKER_HOST"] = docker_host  # the engine the provider talks to (`DOCKER_HOST`, as with the CLI)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.e2e.harness", str(request_file)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    (state_dir / "last-run.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not result_file.exists():
        raise DeployError(f"{request['command']} failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}")
    data = json.loads(result_file.read_text())
    return Result(actions=data["actions"], outputs=data.get("outputs", {}), warnings=data.get("warnings", []))


# --- the provider stand-in (runs in the child process) ----------------------------------------------


def _unwrap(value: Any) -> Any:
    """A value with Pulumi's secret wrappers removed (the engine needs the plain value)."""
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _unwrap(value["value"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class State:
    """Resources of the last deployment by URN: type, name, id, inputs, provider state, options."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.old: dict[str, dict] = json.loads(path.read_text())["resources"] if path.exists() else {}
        self.new: dict[str, dict] = {}
        self.deleted: set[str] = set()
        self.lock = threading.Lock()

    def record(self, urn: str, entry: dict) -> None:
        with self.lock:
            self.new[urn] = entry
            self.save()

    def forget(self, urn: str) -> None:
        with self.lock:
            self.deleted.add(urn)
            self.new.pop(urn, None)
            self.save()

    def save(self) -> None:
        merged = {u: e for u, e in self.old.items() if u not in self.new and u not in self.deleted}
        merged.update(self.new)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"resources": merged}, indent=1))
        tmp.replace(self.path)


class DockerProvider:
    """What pulumi-docker (and pulumi-random) do for the resource types the stack declares."""

    def __init__(self, engine: docker.APIClient, state: State) -> None:
        self.engine = engine
        self.state = state
        self.actions: list[dict] = []
        self.warnings: list[str] = []
        self.pending_deletes: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def _act(self, urn: str, entry: dict, op: str, diff=()) -> None:
        with self.lock:
            self.actions.append({"urn": urn, "type": entry["type"], "name": entry["name"], "op": op, "diff": sorted(diff)})

    # -- refresh (`pulumi up --refresh`) ----------------------------------------------------------

    def refresh(self) -> None:
        """Read every resource of the state back from the engine, as `pulumi refresh` does."""
        for urn, old in list(self.state.old.items()):
            typ = old["type"]
            try:
                if typ == CONTAINER:
                    self._inspect_container_for_read(old["id"])  # the provider lists containers first
                    old["state"] = ps.read_container(self.engine.inspect_container(old["id"]), old["state"])
                elif typ == VOLUME:
                    old["state"] = ps.read_volume(self.engine.inspect_volume(old["id"]), old["state"],
                                                  hidden_labels=[HARNESS_LABEL])
                elif typ == NETWORK:
                    old["state"] = ps.read_network(self.engine.inspect_network(old["id"]), old["state"],
                                                   hidden_labels=[HARNESS_LABEL])
                else:
                    continue
            except NotFound:
                # Read sets the id to "": the resource is gone from the state.
                del self.state.old[urn]
                self._act(urn, old, "refresh", ["(gone from the engine: removed from the state)"])
                continue
            self._act(urn, old, "refresh")
        self.state.save()

    def _inspect_container_for_read(self, cid: str) -> None:
        if not self.engine.containers(all=True, filters={"id": cid}):
            raise NotFound(f"container {cid}")

    # -- registration ---------------------------------------------------------------------------

    def register(self, typ: str, name: str, urn: str, inputs: dict, options: dict, custom: bool) -> tuple[Optional[str], dict]:
        if not custom:  # a component: nothing to create
            return None, inputs
        plain = _unwrap(inputs)
        old = self.state.old.get(urn)
        handler = {
            CONTAINER: self._container,
            NETWORK: self._network,
            VOLUME: self._volume,
            REMOTE_IMAGE: self._remote_image,
            RANDOM_PASSWORD: self._random_password,
            **swarm_provider.handlers(self),
        }.get(typ)
        if handler is None:
            raise DeployError(f"{urn}: the e2e harness does not implement {typ} (see docs/e2e.md)")
        entry = {"type": typ, "name": name, "inputs": plain, "options": options}
        rid, outputs, state = handler(urn, entry, old)
        entry.update(id=rid, outputs=outputs, state=state)
        self.state.record(urn, entry)
        # Outputs as Pulumi sees them: the registered inputs (secrets stay wrapped) plus computed values.
        return rid, {**inputs, **{k: v for k, v in outputs.items() if k not in inputs and k != "id"}}

    def _check_replace_allowed(self, urn: str, old: dict, keys) -> None:
        if old["options"].get("protect"):
            raise DeployError(f"{urn}: protected resource cannot be replaced (changed: {sorted(keys)})")

    @staticmethod
    def _replace_keys(entry: dict, diff: ps.Diff) -> set[str]:
        roc = set(entry["options"].get("replaceOnChanges", []))
        return diff.replace | {k for k in diff.keys if k in roc or "*" in roc}

    # -- containers -----------------------------------------------------------------------------

    def _container(self, urn: str, entry: dict, old: Optional[dict]):
        inputs = entry["inputs"]
        if old is None:
            cid, state = self._create_container(inputs)
            self._act(urn, entry, "create")
            return cid, {"id": cid}, state
        diff = ps.diff_container(old["state"], inputs, ignore_changes=entry["options"].get("ignoreChanges", []))
        if not self._container_exists(old["id"]):
            # Without refresh the state still holds it: the provider plans from the state alone.
            self.warnings.append(
                f"{entry['name']}: container {old['id'][:12]} is not on the engine; the state still holds it "
                "(a deploy with refresh re-creates it)"
            )
        replace = self._replace_keys(entry, diff)
        if replace:
            self._check_replace_allowed(urn, old, replace)
            if entry["options"].get("deleteBeforeReplace"):
                self._delete_container(old)
                cid, state = self._create_container(inputs)
            else:
                # Pulumi's default: create the replacement first, delete the old one at the end.
                cid, state = self._create_container(inputs)
                self.pending_deletes.append((urn, old))
            self._act(urn, entry, "replace", replace)
            return cid, {"id": cid}, state
        cid = old["id"]
        if not diff:
            self._act(urn, entry, "same")
            return cid, {"id": cid}, old["state"]
        if diff.update:
            try:
                self.engine.update_container(cid, **self._update_args(inputs))
            except APIError as err:
                raise DeployError(f"container {inputs.get('name')}: Unable to update a container: {err.explanation}") from None
        if "mustRun" in diff.keys and inputs.get("mustRun", True) and not old["state"].get("mustRun", True):
            if inputs.get("start", True):
                self.engine.start(cid)  # resourceDockerContainerUpdate: must_run false -> true starts it
        self._act(urn, entry, "update", diff.keys)
        return cid, {"id": cid}, ps.planned_container_state(old["state"], inputs, diff)

    def _container_exists(self, cid: str) -> bool:
        try:
            self.engine.inspect_container(cid)
            return True
        except NotFound:
            return False

    def _remove_container_quietly(self, cid: str) -> None:
        try:
            self.engine.remove_container(cid, v=True, force=True)
        except NotFound:
            pass

    def _delete_container(self, old: dict) -> None:
        # The provider's delete (resourceDockerContainerDelete): `docker stop` with
        # destroy_grace_seconds (0 when unset: SIGTERM, then SIGKILL at once), then a forced remove.
        grace = int((old.get("inputs") or {}).get("destroyGraceSeconds") or 0)
        try:
            self.engine.stop(old["id"], timeout=grace)
        except (NotFound, APIError):
            pass
        self._remove_container_quietly(old["id"])

    @staticmethod
    def _update_args(inputs: dict) -> dict:
        """resourceDockerContainerUpdate's ContainerUpdate body (memory in MB, swap -1 kept)."""
        args: dict[str, Any] = {
            "restart_policy": {"Name": inputs.get("restart", "no"), "MaximumRetryCount": inputs.get("maxRetryCount", 0)},
            "cpu_shares": inputs.get("cpuShares", 0),
            "mem_limit": inputs.get("memory", 0) * 1024 * 1024,
            "mem_reservation": inputs.get("memoryReservation", 0) * 1024 * 1024,
            "cpuset_cpus": inputs.get("cpuSet", ""),
        }
        if inputs.get("memorySwap"):
            swap = inputs["memorySwap"]
            args["memswap_limit"] = swap * 1024 * 1024 if swap > 0 else swap
        return args

    def _create_container(self, inputs: dict) -> tuple[str, dict]:
        """resourceDockerContainerCreate, which ends with resourceDockerContainerRead."""
        spec = container_spec(inputs)
        name = inputs.get("name") or f"harness-{_secrets.token_hex(4)}"
        try:
            cid = self.engine.create_container_from_config(spec, name)["Id"]
        except APIError as err:
            raise DeployError(f"container {name}: Unable to create container: {err.explanation}") from None
        networks = inputs.get("networksAdvanced") or []
        if networks:
            # As the provider does: leave the default bridge, join each declared network.
            try:
                self.engine.disconnect_container_from_network(cid, "bridge")
            except APIError as err:
                if "is not connected" not in str(err.explanation):
                    raise
            for net in networks:
                self.engine.connect_container_to_network(
                    cid, net["name"], aliases=net.get("aliases") or [],
                    ipv4_address=net.get("ipv4Address") or None, ipv6_address=net.get("ipv6Address") or None,
                )
        for upload in inputs.get("uploads") or []:
            self.engine.put_archive(cid, "/", upload_tar(upload))
        if inputs.get("start", True):
            self.engine.start(cid)
            if inputs.get("mustRun", True):
                state = self._wait_running(cid, timeout=5)
                if not state["State"]["Running"]:
                    raise DeployError(f"container {name} exited immediately:\n{self._logs(cid)}")
            if inputs.get("wait"):
                self._wait_healthy(cid, name, float(inputs.get("waitTimeout", 60)))
        prior = {**ps.CONTAINER_DEFAULTS, **inputs}
        return cid, ps.read_container(self.engine.inspect_container(cid), prior)

    def _logs(self, cid: str, tail: int = 40) -> str:
        return self.engine.logs(cid, tail=tail).decode(errors="replace")

    def _wait_running(self, cid: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            info = self.engine.inspect_container(cid)
            if info["State"]["Running"] or time.monotonic() > deadline or info["State"]["Status"] in ("exited", "dead"):
                return info
            time.sleep(0.2)

    def _wait_healthy(self, cid: str, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            state = self.engine.inspect_container(cid)["State"]
            health = (state.get("Health") or {}).get("Status")
            if health is None:
                raise DeployError(f"container {name}: wait=true needs a healthcheck")
            if health == "healthy":
                return
            if not state["Running"] or time.monotonic() > deadline:
                raise DeployError(
                    f"container {name} is not healthy after {timeout:.0f}s (health {health}):\n{self._logs(cid)}"
                )
            time.sleep(0.5)

    # -- networks, volumes, images, passwords --------------------------------------------------

    def _network(self, urn: str, entry: dict, old: Optional[dict]):
        inputs = entry["inputs"]
        if old is not None:
            diff = ps.diff_network(old["state"], inputs, ignore_changes=entry["options"].get("ignoreChanges", []))
            if not diff:
                self._act(urn, entry, "same")
                return old["id"], old["outputs"], old["state"]
            self._check_replace_allowed(urn, old, diff.keys)
            # A network's name is fixed, so the old one must go first; Docker refuses while
            # containers are attached, which is what the provider would hit too.
            try:
                self._delete_network(old)
            except APIError as err:
                changed = {k: (old["state"].get(k), inputs.get(k)) for k in sorted(diff.keys)}
                raise DeployError(f"network {inputs['name']}: replacing it for {changed} (state, input): {err.explanation}") from None
        labels = {**{l["label"]: l["value"] for l in inputs.get("labels") or []}, HARNESS_LABEL: "1"}
        try:
            nid = self.engine.create_network(
                inputs["name"], driver=inputs.get("driver", "bridge"), options=inputs.get("options") or {},
                check_duplicate=True, internal=bool(inputs.get("internal", False)), labels=labels,
                enable_ipv6=bool(inputs.get("ipv6", False)), attachable=bool(inputs.get("attachable", False)),
            )["Id"]
        except APIError as err:
            raise DeployError(f"network {inputs['name']}: {err.explanation}") from None
        # The provider reads a new network back after a delay (resource_docker_network_funcs.go,
        # networkReadRefreshDelay): a Swarm network inspected at once may not be allocated yet
        # (IPAM driver "", no subnet), which the next plan would take for a change.
        time.sleep(NETWORK_READ_DELAY_S)
        state = ps.read_network(self.engine.inspect_network(nid), inputs, hidden_labels=[HARNESS_LABEL])
        self._act(urn, entry, "create" if old is None else "replace", [] if old is None else diff.keys)
        return nid, {"id": nid, "name": inputs["name"]}, state

    def _delete_network(self, old: dict) -> None:
        try:
            self.engine.remove_network(old["id"])
        except NotFound:
            pass

    def _volume(self, urn: str, entry: dict, old: Optional[dict]):
        inputs = entry["inputs"]
        diff = None
        if old is not None:
            diff = ps.diff_volume(old["state"], inputs, ignore_changes=entry["options"].get("ignoreChanges", []))
            if not diff:
                self._act(urn, entry, "same")
                return old["id"], old["outputs"], old["state"]
            self._check_replace_allowed(urn, old, diff.keys)
            # Pulumi's default order: the replacement first, the old one deleted at the end.
            self.pending_deletes.append((urn, old))
        labels = {**{l["label"]: l["value"] for l in inputs.get("labels") or []}, HARNESS_LABEL: "1"}
        # resourceDockerVolumeCreate: VolumeCreate, which hands back an existing volume of that
        # name unchanged (its labels too), then resourceDockerVolumeRead.
        vol = self.engine.create_volume(inputs.get("name"), driver=inputs.get("driver", "local"),
                                        driver_opts=inputs.get("driverOpts") or None, labels=labels)
        state = ps.read_volume(self.engine.inspect_volume(vol["Name"]), inputs, hidden_labels=[HARNESS_LABEL])
        self._act(urn, entry, "create" if old is None else "replace", [] if diff is None else diff.keys)
        return vol["Name"], {"name": vol["Name"], "mountpoint": vol["Mountpoint"]}, state

    def _remote_image(self, urn: str, entry: dict, old: Optional[dict]):
        inputs = entry["inputs"]
        name = inputs["name"]
        try:
            image = self.engine.inspect_image(name)  # keepLocally images are found locally; nothing is pulled
        except NotFound:
            raise DeployError(
                f"image {name} is not on the engine; no registry is reachable here (build it: images/build.sh)"
            ) from None
        diff = set() if old is None else {k for k in set(old["inputs"]) | set(inputs) if old["inputs"].get(k) != inputs.get(k)}
        replace = diff - IMAGE_UPDATABLE
        op = "create" if old is None else ("replace" if replace else ("update" if diff else "same"))
        if old is not None and old.get("outputs", {}).get("imageId") != image["Id"] and op == "same":
            op, replace = "replace", {"imageId"}
        self._act(urn, entry, op, replace or diff)
        digests = image.get("RepoDigests") or []
        outputs = {"imageId": image["Id"], "repoDigest": digests[0] if digests else ""}
        return f"{image['Id']}{name}", outputs, {**inputs, **outputs}

    def _random_password(self, urn: str, entry: dict, old: Optional[dict]):
        if old is not None and old["inputs"] == entry["inputs"]:
            self._act(urn, entry, "same")
            return old["id"], old["outputs"], old["state"]
        length = int(entry["inputs"].get("length", 16))
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        result = "".join(_secrets.choice(alphabet) for _ in range(length))
        self._act(urn, entry, "create" if old is None else "replace")
        return "none", {"result": result}, {**entry["inputs"], "result": result}

    # -- deletes --------------------------------------------------------------------------------

    def delete(self, urn: str, entry: dict, *, replaced: bool = False) -> None:
        typ, options = entry["type"], entry.get("options", {})
        if options.get("protect") and not replaced:
            raise DeployError(f"{urn}: resource is protected; set protectData false (or `pulumi state unprotect`) first")
        if options.get("retainOnDelete"):
            self._act(urn, entry, "retain")
            return
        if typ == CONTAINER:
            self._delete_container(entry)
        elif typ == NETWORK:
            self._delete_network(entry)
        elif typ == VOLUME:
            if replaced and entry["id"] in {e.get("id") for e in self.state.new.values()}:
                pass  # the replacement is the same engine volume (same name): nothing to remove
            else:
                try:
                    self.engine.remove_volume(entry["id"])
                except NotFound:
                    pass
        elif typ in swarm_provider.TYPES:
            swarm_provider.delete(self, entry)
        # RemoteImage: keepLocally (the stack always sets it) leaves the image; RandomPassword: nothing.
        self._act(urn, entry, "delete")

    def finish(self) -> None:
        """Deletes after the program ran: replaced resources, then resources no longer declared.

        Within each group, containers go first, networks and volumes last (what Pulumi's
        dependency order gives for this stack's resources).
        """
        rank = {CONTAINER: 0, REMOTE_IMAGE: 1, RANDOM_PASSWORD: 1, NETWORK: 2, VOLUME: 3, **swarm_provider.RANK}
        by_rank = lambda pairs: sorted(reversed(pairs), key=lambda p: rank.get(p[1]["type"], 1))
        for urn, old in by_rank(list(self.pending_deletes)):
            self.delete(urn, old, replaced=True)
        gone = [(u, e) for u, e in self.state.old.items() if u not in self.state.new]
        for urn, old in by_rank(gone):
            self.delete(urn, old)
            self.state.forget(urn)


# Inputs that steer the provider, not the container.
PROVIDER_ONLY = {"wait", "waitTimeout", "mustRun", "destroyGraceSeconds", "removeVolumes", "start", "attach", "logs", "rm",
                 "containerReadRefreshTimeoutMilliseconds"}


def container_spec(inputs: dict) -> dict:
    """The Engine API body of POST /containers/create for pulumi-docker Container inputs."""
    known = {
        "name", "image", "command", "entrypoints", "envs", "user", "workingDir", "hostname", "domainname",
        "labels", "ports", "volumes", "mounts", "networksAdvanced", "networkMode", "pidMode", "ipcMode",
        "usernsMode", "hosts", "uploads", "healthcheck", "restart", "maxRetryCount", "memory", "memorySwap",
        "cpuShares", "cpuSet", "capabilities", "securityOpts", "readOnly", "devices", "logDriver", "logOpts",
        "privileged", "init", "tmpfs", "sysctls", "shmSize", "groupAdds", "dns", "dnsOpts", "dnsSearches",
        "tty", "stdinOpen", "stopSignal", "stopTimeout", "ulimits", "publishAllPorts",
    } | PROVIDER_ONLY
    unknown = sorted(k for k, v in inputs.items() if k not in known and v not in (None, [], {}, False, ""))
    if unknown:
        raise DeployError(f"container {inputs.get('name')}: the e2e harness does not map {unknown} (docs/e2e.md)")

    config: dict[str, Any] = {"Image": inputs["image"], "Labels": {}}
    for key, api in (("command", "Cmd"), ("entrypoints", "Entrypoint"), ("envs", "Env"), ("user", "User"),
                     ("workingDir", "WorkingDir"), ("hostname", "Hostname"), ("domainname", "Domainname"),
                     ("tty", "Tty"), ("stdinOpen", "OpenStdin"), ("stopSignal", "StopSignal"),
                     ("stopTimeout", "StopTimeout")):
        if inputs.get(key) not in (None, [], ""):
            config[api] = inputs[key]
    config["Labels"] = {**{l["label"]: l["value"] for l in inputs.get("labels") or []}, HARNESS_LABEL: "1"}

    host: dict[str, Any] = {
        "RestartPolicy": {"Name": inputs.get("restart", "no"), "MaximumRetryCount": inputs.get("maxRetryCount", 0)},
        "Privileged": bool(inputs.get("privileged", False)),
        "PublishAllPorts": bool(inputs.get("publishAllPorts", False)),
        "ReadonlyRootfs": bool(inputs.get("readOnly", False)),
        "AutoRemove": bool(inputs.get("rm", False)),
        "Init": bool(inputs.get("init", False)),
        # log_driver has no default: "" lets the daemon pick its own (and merge its log-opts).
        "LogConfig": {"Type": inputs.get("logDriver", ""), "Config": inputs.get("logOpts") or {}},
        # network_mode defaults to "bridge" in the schema, and the provider sends it.
        "NetworkMode": inputs.get("networkMode") or "bridge",
    }
    exposed, bindings = {}, {}
    for port in inputs.get("ports") or []:
        key = f"{port['internal']}/{port.get('protocol', 'tcp')}"
        exposed[key] = {}
        bindings.setdefault(key, []).append(
            {"HostIp": port.get("ip", "0.0.0.0"), "HostPort": str(port["external"]) if port.get("external") else ""}
        )
    if exposed:
        config["ExposedPorts"] = exposed
        host["PortBindings"] = bindings
    binds = []
    for vol in inputs.get("volumes") or []:
        source = vol.get("volumeName") or vol.get("hostPath")
        if vol.get("fromContainer"):
            raise DeployError("volumes.fromContainer is not mapped by the e2e harness")
        binds.append(f"{source}:{vol['containerPath']}" + (":ro" if vol.get("readOnly") else ""))
    if binds:
        host["Binds"] = binds
    mounts = []
    for m in inputs.get("mounts") or []:
        mount: dict[str, Any] = {"Type": m["type"], "Target": m["target"], "Source": m.get("source", ""),
                                 "ReadOnly": bool(m.get("readOnly", False))}
        if m["type"] == "bind" and m.get("bindOptions"):
            mount["BindOptions"] = {"Propagation": m["bindOptions"].get("propagation", "")}
        if m["type"] == "volume" and m.get("volumeOptions"):
            opts = m["volumeOptions"]
            mount["VolumeOptions"] = {"NoCopy": bool(opts.get("noCopy", False)),
                                      "Labels": {l["label"]: l["value"] for l in opts.get("labels") or []}}
        if m["type"] == "tmpfs" and m.get("tmpfsOptions"):
            opts = m["tmpfsOptions"]
            mount["TmpfsOptions"] = {"SizeBytes": opts.get("sizeBytes", 0), "Mode": opts.get("mode", 0)}
        mounts.append(mount)
    if mounts:
        host["Mounts"] = mounts
    if inputs.get("hosts"):
        host["ExtraHosts"] = [f"{h['host']}:{h['ip']}" for h in inputs["hosts"]]
    for key, api in (("networkMode", "NetworkMode"), ("pidMode", "PidMode"), ("ipcMode", "IpcMode"),
                     ("usernsMode", "UsernsMode"), ("securityOpts", "SecurityOpt"), ("tmpfs", "Tmpfs"),
                     ("sysctls", "Sysctls"), ("groupAdds", "GroupAdd"), ("dns", "Dns"), ("dnsOpts", "DnsOptions"),
                     ("dnsSearches", "DnsSearch"), ("cpuShares", "CpuShares"), ("cpuSet", "CpusetCpus")):
        if inputs.get(key) not in (None, [], {}, ""):
            host[api] = inputs[key]
    if inputs.get("memory"):
        host["Memory"] = inputs["memory"] * 1024 * 1024
    if inputs.get("memorySwap"):
        swap = inputs["memorySwap"]
        host["MemorySwap"] = swap * 1024 * 1024 if swap > 0 else swap
    if inputs.get("shmSize"):
        host["ShmSize"] = inputs["shmSize"] * 1024 * 1024
    caps = inputs.get("capabilities") or {}
    if caps.get("adds"):
        host["CapAdd"] = caps["adds"]
    if caps.get("drops"):
        host["CapDrop"] = caps["drops"]
    if inputs.get("devices"):
        host["Devices"] = [
            {"PathOnHost": d["hostPath"], "PathInContainer": d.get("containerPath") or d["hostPath"],
             "CgroupPermissions": d.get("permissions", "rwm")}
            for d in inputs["devices"]
        ]
    if inputs.get("ulimits"):
        host["Ulimits"] = [{"Name": u["name"], "Soft": u["soft"], "Hard": u["hard"]} for u in inputs["ulimits"]]
    hc = inputs.get("healthcheck")
    if hc:
        config["Healthcheck"] = {
            "Test": hc.get("tests") or [],
            "Interval": ps.parse_go_duration(hc.get("interval")),
            "Timeout": ps.parse_go_duration(hc.get("timeout")),
            "StartPeriod": ps.parse_go_duration(hc.get("startPeriod")),
            "Retries": int(hc.get("retries", 0)),
        }
    config["HostConfig"] = host
    return config


def upload_tar(upload: dict) -> bytes:
    """One `uploads` entry as the tar the provider copies to `/` before the container starts."""
    if upload.get("contentBase64"):
        data = base64.b64decode(upload["contentBase64"])
    elif upload.get("source"):
        data = Path(upload["source"]).read_bytes()
    else:
        data = (upload.get("content") or "").encode()
    if upload.get("permissions"):
        mode = int(str(upload["permissions"]), 8)
    else:
        mode = 0o744 if upload.get("executable") else 0o644
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(upload["file"].lstrip("/"))
        info.size, info.mode, info.mtime = len(data), mode, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# --- the child process: run the program under mocks ---------------------------------------------------


def _child_deploy(request: dict) -> dict:
    import pulumi

    from tests.support.pulumi_program import ProgramMocks, run_program

    engine = client()
    state = State(Path(request["state"]))
    provider = DockerProvider(engine, state)
    if request.get("refresh"):
        provider.refresh()

    class Mocks(ProgramMocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            registration = self.registration
            options = {
                "retainOnDelete": registration.retain_on_delete,
                "protect": registration.protect,
                "deleteBeforeReplace": registration.delete_before_replace,
                "replaceOnChanges": list(registration.replace_on_changes),
                "ignoreChanges": list(registration.ignore_changes),
            }
            return provider.register(args.typ, args.name, registration.urn, dict(args.inputs), options, args.custom)

        def call(self, args: pulumi.runtime.MockCallArgs):
            if args.token == "docker:index/getNetwork:getNetwork":
                name = _unwrap(args.args)["name"]
                try:
                    net = engine.inspect_network(name)
                except NotFound:
                    raise Exception(f"Could not find docker network: {name}") from None
                provider.actions.append({"urn": "", "type": args.token, "name": name, "op": "read", "diff": []})
                return {
                    "id": net["Id"],
                    "name": net["Name"],
                    "driver": net["Driver"],
                    "internal": net["Internal"],
                    "scope": net["Scope"],
                    "options": net.get("Options") or {},
                    "ipamConfigs": [
                        {"subnet": c.get("Subnet", ""), "gateway": c.get("Gateway", ""), "ipRange": c.get("IPRange", ""),
                         "auxAddress": c.get("AuxiliaryAddresses") or {}}
                        for c in (net.get("IPAM") or {}).get("Config") or []
                    ],
                }
            raise NotImplementedError(f"the e2e harness does not answer the invoke {args.token}")

    program = Path(request["program"])
    sys.path.insert(0, str(program.parent))
    deployment = run_program(
        request["config"], secrets=request["secrets"], stack=request["stack"], mocks=Mocks(), program=program
    )
    provider.finish()
    state.save()
    return {"actions": provider.actions, "outputs": _unwrap(deployment.outputs), "warnings": provider.warnings}


def _child_destroy(request: dict) -> dict:
    state = State(Path(request["state"]))
    provider = DockerProvider(client(), state)
    provider.finish()  # nothing registered: every resource of the state goes
    state.save()
    return {"actions": provider.actions, "outputs": {}}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text())
    os.chdir(Path(request.get("program", REPO / "__main__.py")).parent)
    result = _child_deploy(request) if request["command"] == "deploy" else _child_destroy(request)
    Path(request["result"]).write_text(json.dumps(result, indent=1, sort_keys=True))
    for action in result["actions"]:
        print(f"{action['op']:8} {action['type']} {action['name']} {' '.join(action['diff'])}", file=sys.stderr)
    for warning in result.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
