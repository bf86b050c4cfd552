"""What pulumi-docker keeps as a resource's state, and how it diffs the next inputs against it.

pulumi-docker 5.2.0 bridges kreuzwerker/terraform-provider-docker (its SDK has the container
input `platform`, added in provider v4.1.0; the functions below are read at tag v4.5.0, where
they are unchanged since v4.1.0 except for #947, which this module follows).  The Terraform
plugin SDK keeps, after create and after every refresh, the state that the resource's Read
function writes from `docker inspect`; attributes Read does not set keep their configured value.
The next `pulumi up` diffs the new inputs against that state, not against the old inputs.

Sources (internal/provider/, tag v4.5.0):
- resource_docker_container_funcs.go: resourceDockerContainerRead (the state below),
  resourceDockerContainerCreate (ends with Read), resourceDockerContainerUpdate (the only
  attributes applied in place; it does not call Read, so the state after an update is the plan),
  containerLogOptsForState (log_opts read back only when configured; #888).
- resource_docker_container.go: the schema (ForceNew, Computed, Default, DiffSuppressFunc).
- resource_docker_container_structures.go: flattenExtraHosts (split on ':'),
  getDockerContainerMounts, flattenContainerPorts.
- resource_docker_volume.go: resourceDockerVolumeRead (labels as found on the engine), schema.
- resource_docker_network.go, resource_docker_network_funcs.go:
  resourceDockerNetworkReadRefreshFunc, schema.

Pulumi names (camelCase, plurals such as `hosts`, `envs`) are used throughout, as the program
registers them.  Pure functions: no engine, no Pulumi.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Optional

__all__ = [
    "CONTAINER_FORCE_NEW",
    "CONTAINER_UPDATABLE",
    "Diff",
    "diff_container",
    "diff_network",
    "diff_volume",
    "go_duration",
    "parse_go_duration",
    "read_container",
    "read_network",
    "read_volume",
]

MB = 1024 * 1024

# --- Go's time.ParseDuration and time.Duration.String() ------------------------------------------

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: Optional[str]) -> int:
    """Nanoseconds of a Go duration string (`15s`, `1m30s`, `1.5h`, `500ms`); `""` is 0."""
    if not text or text == "0":
        return 0
    sign, body = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
    pos, total = 0, 0
    for match in _PART.finditer(body):
        if match.start() != pos:
            break
        number, unit = match.groups()
        whole, _, frac = number.partition(".")
        total += int(whole or 0) * _UNITS[unit]
        if frac:
            total += int(frac) * _UNITS[unit] // 10 ** len(frac)
        pos = match.end()
    if pos != len(body) or not body:
        raise ValueError(f"invalid Go duration {text!r}")
    return sign * total


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def go_duration(ns: int) -> str:
    """Go's `time.Duration.String()`: `1m0s` for 60 s, `1h30m0s`, `1.5s`, `500ms`, `0s`."""
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_fraction(u, 1_000)}µs"
    if u < 10**9:
        return f"{sign}{_fraction(u, 1_000_000)}ms"
    minutes, rest = divmod(u, 60 * 10**9)
    text = f"{_fraction(rest, 10**9)}s"
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
    return sign + text


# --- containers -----------------------------------------------------------------------------------

# resource_docker_container.go: every attribute marked ForceNew (Pulumi names).
CONTAINER_FORCE_NEW = frozenset({
    "name", "readOnly", "image", "hostname", "domainname", "command", "entrypoints", "user", "dns", "dnsOpts",
    "dnsSearches", "publishAllPorts", "workingDir", "capabilities", "securityOpts", "runtime", "platform",
    "stopSignal", "stopTimeout", "mounts", "volumes", "ports", "hosts", "ulimits", "envs", "privileged", "devices",
    "deviceRequests", "labels", "shmSize", "logDriver", "logOpts", "networkMode", "networksAdvanced", "pidMode",
    "usernsMode", "uploads", "sysctls", "ipcMode", "groupAdds", "tty", "stdinOpen", "storageOpts", "gpus", "cpus",
    "cgroupnsMode", "cgroupParent",
})
# resourceDockerContainerUpdate: the attributes it sends to ContainerUpdate.
CONTAINER_UPDATABLE = frozenset({
    "restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet", "memorySwap",
    "deviceReadBps", "deviceReadIops", "deviceWriteBps", "deviceWriteIops",
})
# Optional + Computed (or a DiffSuppressFunc that treats "" as "keep"): not declaring them never diffs.
CONTAINER_COMPUTED = frozenset({
    "hostname", "command", "entrypoints", "user", "workingDir", "securityOpts", "runtime", "platform", "stopSignal",
    "stopTimeout", "envs", "labels", "shmSize", "logDriver", "healthcheck", "ipcMode", "init",
})
# Schema defaults: the value an undeclared attribute has in the plan.
CONTAINER_DEFAULTS: Mapping[str, Any] = {
    "rm": False, "readOnly": False, "start": True, "wait": False, "waitTimeout": 60, "attach": False, "logs": False,
    "mustRun": True, "restart": "no", "removeVolumes": True, "networkMode": "bridge", "memoryReservation": 0,
    "tty": False, "stdinOpen": False, "containerReadRefreshTimeoutMilliseconds": 15000,
}
# Attributes only the provider computes: never part of a diff.
CONTAINER_OUTPUT_ONLY = frozenset({"id", "exitCode", "containerLogs", "bridge", "networkData", "urn"})
# TypeSet attributes (order does not matter); everything else list-like is ordered.
_SETS = frozenset({
    "dns", "dnsOpts", "dnsSearches", "securityOpts", "mounts", "volumes", "hosts", "ulimits", "envs", "devices",
    "labels", "networksAdvanced", "uploads", "groupAdds", "aliases", "adds", "drops", "linkLocalIps",
})
_HEALTHCHECK_DEFAULTS = {"interval": "0s", "timeout": "0s", "startPeriod": "0s", "startInterval": "0s", "retries": 0}
_PORT_DEFAULTS = {"ip": "0.0.0.0", "protocol": "tcp"}


def _flatten_extra_hosts(extra_hosts: Iterable[str]) -> list[dict]:
    """flattenExtraHosts: `strings.Split(h, ":")`, host = [0], ip = [1] (an IPv6 address is cut)."""
    out = []
    for entry in extra_hosts:
        parts = entry.split(":")
        out.append({"host": parts[0], "ip": parts[1] if len(parts) > 1 else ""})
    return out


def _mounts(host_config: Mapping) -> list[dict]:
    """getDockerContainerMounts."""
    mounts = []
    for m in host_config.get("Mounts") or []:
        item: dict[str, Any] = {"target": m.get("Target", ""), "source": m.get("Source", ""), "type": m.get("Type", ""),
                                "readOnly": bool(m.get("ReadOnly", False))}
        if m.get("BindOptions") is not None:
            item["bindOptions"] = {"propagation": m["BindOptions"].get("Propagation", "")}
        if m.get("VolumeOptions") is not None:
            opts = m["VolumeOptions"]
            item["volumeOptions"] = {
                "noCopy": bool(opts.get("NoCopy", False)),
                "labels": [{"label": k, "value": v} for k, v in (opts.get("Labels") or {}).items()],
            }
        if m.get("TmpfsOptions") is not None:
            opts = m["TmpfsOptions"]
            item["tmpfsOptions"] = {"sizeBytes": opts.get("SizeBytes", 0), "mode": opts.get("Mode", 0)}
        mounts.append(item)
    return mounts


def _ports(port_map: Optional[Mapping]) -> list[dict]:
    """flattenContainerPorts: every host binding of NetworkSettings.Ports, sorted by port and protocol."""
    def key(k: str):
        port, proto = k.split("/")
        return int(port), proto

    out = []
    for port_key in sorted(port_map or {}, key=key):
        port, proto = port_key.split("/")
        for binding in port_map[port_key] or []:
            out.append({"internal": int(port), "external": int(binding.get("HostPort") or 0),
                        "ip": binding.get("HostIp", ""), "protocol": proto})
    return out


def read_container(inspect: Mapping, prior: Mapping) -> dict:
    """resourceDockerContainerRead: the state after create or refresh, from `docker inspect`.

    `prior` is the state before the read (after a create: the planned values, i.e. the inputs
    with schema defaults); attributes Read does not set (envs, labels, uploads, volumes,
    networksAdvanced, wait, ...) keep their value from it.
    """
    config, host = inspect["Config"], inspect["HostConfig"]
    running = bool(inspect["State"]["Running"])
    state = {**CONTAINER_DEFAULTS, **{k: v for k, v in prior.items() if v is not None}}
    state["name"] = inspect["Name"].lstrip("/")
    state["rm"] = bool(host.get("AutoRemove"))
    state["readOnly"] = bool(host.get("ReadonlyRootfs"))
    if not running and state.get("mustRun", True):
        state["mustRun"] = False  # the next update starts it again
    if str(prior.get("image", "")).startswith("sha256:"):
        state["image"] = inspect["Image"]
    else:
        state["image"] = config.get("Image")
    state["hostname"] = config.get("Hostname", "")
    state["domainname"] = config.get("Domainname", "")
    state["command"] = config.get("Cmd") or []
    state["entrypoints"] = config.get("Entrypoint") or []
    state["user"] = config.get("User", "")
    state["dns"] = host.get("Dns") or []
    state["dnsOpts"] = host.get("DnsOptions") or []
    state["securityOpts"] = host.get("SecurityOpt") or []
    state["dnsSearches"] = host.get("DnsSearch") or []
    state["publishAllPorts"] = bool(host.get("PublishAllPorts"))
    state["restart"] = (host.get("RestartPolicy") or {}).get("Name", "")
    state["maxRetryCount"] = (host.get("RestartPolicy") or {}).get("MaximumRetryCount", 0)
    state["init"] = bool(host.get("Init"))
    state["workingDir"] = config.get("WorkingDir", "")
    if host.get("CapAdd") or host.get("CapDrop"):
        state["capabilities"] = {"adds": list(host.get("CapAdd") or []), "drops": list(host.get("CapDrop") or [])}
    state["runtime"] = host.get("Runtime", "")
    state["mounts"] = _mounts(host)
    state["tmpfs"] = host.get("Tmpfs") or {}
    state["hosts"] = _flatten_extra_hosts(host.get("ExtraHosts") or [])
    if prior.get("ulimits"):
        state["ulimits"] = [{"name": u["Name"], "soft": u["Soft"], "hard": u["Hard"]} for u in host.get("Ulimits") or []]
    state["privileged"] = bool(host.get("Privileged"))
    state["memory"] = (host.get("Memory") or 0) // MB
    reservation = host.get("MemoryReservation") or 0
    state["memoryReservation"] = reservation // MB if reservation > 0 else reservation
    swap = host.get("MemorySwap") or 0
    state["memorySwap"] = swap // MB if swap > 0 else swap
    state["shmSize"] = (host.get("ShmSize") or 0) // MB
    state["cpuShares"] = host.get("CpuShares") or 0
    state["cpuSet"] = host.get("CpusetCpus") or ""
    log_config = host.get("LogConfig") or {}
    state["logDriver"] = log_config.get("Type", "")
    state["logOpts"] = dict(log_config.get("Config") or {}) if prior.get("logOpts") else None
    state["storageOpts"] = host.get("StorageOpt") or {}
    state["networkMode"] = host.get("NetworkMode", "")
    if prior.get("pidMode"):
        state["pidMode"] = host.get("PidMode", "")
    state["usernsMode"] = host.get("UsernsMode", "")
    check = config.get("Healthcheck")
    if check is not None:
        state["healthcheck"] = {
            "tests": list(check.get("Test") or []),
            "interval": go_duration(check.get("Interval") or 0),
            "timeout": go_duration(check.get("Timeout") or 0),
            "startPeriod": go_duration(check.get("StartPeriod") or 0),
            "startInterval": go_duration(check.get("StartInterval") or 0),
            "retries": check.get("Retries") or 0,
        }
    state["sysctls"] = host.get("Sysctls") or {}
    state["ipcMode"] = host.get("IpcMode", "")
    state["groupAdds"] = host.get("GroupAdd") or []
    state["tty"] = bool(config.get("Tty"))
    state["stdinOpen"] = bool(config.get("OpenStdin"))
    state["stopSignal"] = config.get("StopSignal", "")
    state["stopTimeout"] = config.get("StopTimeout") or 0
    if prior.get("ports") and (running or state.get("mustRun", True)):
        state["ports"] = _ports((inspect.get("NetworkSettings") or {}).get("Ports"))
    return {k: v for k, v in state.items() if v is not None}


# --- comparing inputs with state ------------------------------------------------------------------


def _norm(value: Any, key: str = "") -> Any:
    """A value as the SDK compares it: zero values equal absent ones, sets unordered."""
    if isinstance(value, Mapping):
        if key == "healthcheck":
            value = {**_HEALTHCHECK_DEFAULTS, **{k: v for k, v in value.items() if v is not None}}
        out = {k: _norm(v, k) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", 0, False, [], {})} or None
    if isinstance(value, (list, tuple)):
        if key == "ports":
            value = [{**_PORT_DEFAULTS, **p} for p in value]
        items = [_norm(v, key) for v in value]
        items = [v for v in items if v is not None] if key in _SETS else items
        if key in _SETS:
            items = sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return items or None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None or value is False or value == "" or (type(value) is int and value == 0):
        return None
    return value


class Diff:
    """The attributes whose planned value differs from the state, split by what the provider does."""

    def __init__(self, keys: set[str], force_new: Iterable[str], updatable: Iterable[str]) -> None:
        self.keys = set(keys)
        self.replace = {k for k in self.keys if k in set(force_new)}
        self.update = {k for k in self.keys if k in set(updatable)}
        self.state_only = self.keys - self.replace - self.update

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __repr__(self) -> str:
        return f"Diff(replace={sorted(self.replace)}, update={sorted(self.update)}, state_only={sorted(self.state_only)})"


def _changed(state: Mapping, inputs: Mapping, *, computed: frozenset, defaults: Mapping, output_only: frozenset,
             ignore: Iterable[str]) -> set[str]:
    changed = set()
    for key in (set(state) | set(inputs)) - output_only - set(ignore):
        declared = inputs.get(key)
        if declared is None and key in computed:
            continue  # Optional + Computed: keep whatever the state holds
        planned = declared if declared is not None else defaults.get(key)
        if _norm(planned, key) != _norm(state.get(key, defaults.get(key)), key):
            changed.add(key)
    return changed


def diff_container(state: Mapping, inputs: Mapping, *, ignore_changes: Iterable[str] = ()) -> Diff:
    """The plan of `pulumi up` for a container: its new inputs against its state."""
    keys = _changed(state, inputs, computed=CONTAINER_COMPUTED, defaults=CONTAINER_DEFAULTS,
                    output_only=CONTAINER_OUTPUT_ONLY, ignore=ignore_changes)
    return Diff(keys, CONTAINER_FORCE_NEW, CONTAINER_UPDATABLE)


def planned_container_state(state: Mapping, inputs: Mapping, diff: Diff) -> dict:
    """The state after an in-place update: resourceDockerContainerUpdate does not Read, so the plan."""
    new = dict(state)
    for key in diff.keys:
        value = inputs.get(key, CONTAINER_DEFAULTS.get(key))
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    return new


# --- volumes and networks -------------------------------------------------------------------------

VOLUME_FORCE_NEW = frozenset({"name", "labels", "driver", "driverOpts"})
VOLUME_COMPUTED = frozenset({"name", "driver"})
VOLUME_OUTPUT_ONLY = frozenset({"id", "mountpoint", "urn"})


def _labels(found: Optional[Mapping[str, str]], hidden: Iterable[str]) -> list[dict]:
    return [{"label": k, "value": v} for k, v in sorted((found or {}).items()) if k not in set(hidden)]


def read_volume(inspect: Mapping, prior: Mapping, *, hidden_labels: Iterable[str] = ()) -> dict:
    """resourceDockerVolumeRead: name, labels *as found on the engine*, driver, driver options."""
    state = dict(prior)
    state.update(
        name=inspect["Name"],
        labels=_labels(inspect.get("Labels"), hidden_labels),
        driver=inspect.get("Driver", ""),
        driverOpts=dict(inspect.get("Options") or {}),
        mountpoint=inspect.get("Mountpoint", ""),
    )
    return state


def diff_volume(state: Mapping, inputs: Mapping, *, ignore_changes: Iterable[str] = ()) -> Diff:
    keys = _changed(state, inputs, computed=VOLUME_COMPUTED, defaults={}, output_only=VOLUME_OUTPUT_ONLY,
                    ignore=ignore_changes)
    return Diff(keys, VOLUME_FORCE_NEW, ())


NETWORK_FORCE_NEW = frozenset({
    "name", "labels", "driver", "options", "internal", "attachable", "ingress", "ipamDriver", "ipamOptions",
    "ipamConfigs", "ipv6",
})
NETWORK_COMPUTED = frozenset({"driver", "options", "internal", "ipamConfigs"})
NETWORK_DEFAULTS: Mapping[str, Any] = {"ipamDriver": "default"}
NETWORK_OUTPUT_ONLY = frozenset({"id", "scope", "urn"})


def read_network(inspect: Mapping, prior: Mapping, *, hidden_labels: Iterable[str] = ()) -> dict:
    """resourceDockerNetworkReadRefreshFunc."""
    ipam = inspect.get("IPAM") or {}
    state = {**NETWORK_DEFAULTS, **prior}
    state.update(
        name=inspect["Name"],
        labels=_labels(inspect.get("Labels"), hidden_labels),
        driver=inspect.get("Driver", ""),
        internal=bool(inspect.get("Internal")),
        attachable=bool(inspect.get("Attachable")),
        ingress=bool(inspect.get("Ingress")),
        ipv6=bool(inspect.get("EnableIPv6")),
        ipamDriver=ipam.get("Driver", ""),
        ipamOptions=dict(ipam.get("Options") or {}),
        scope=inspect.get("Scope", ""),
        options=dict(inspect.get("Options") or {}),
        ipamConfigs=[
            {"subnet": c.get("Subnet", ""), "gateway": c.get("Gateway", ""), "ipRange": c.get("IPRange", ""),
             "auxAddress": c.get("AuxiliaryAddresses") or {}}
            for c in ipam.get("Config") or []
        ],
    )
    return state


def diff_network(state: Mapping, inputs: Mapping, *, ignore_changes: Iterable[str] = ()) -> Diff:
    keys = _changed(state, inputs, computed=NETWORK_COMPUTED, defaults=NETWORK_DEFAULTS,
                    output_only=NETWORK_OUTPUT_ONLY, ignore=ignore_changes)
    return Diff(keys, NETWORK_FORCE_NEW, ())
