"""The e2e harness' Swarm resources: docker.Service, docker.ServiceConfig, docker.Secret (and
random.RandomId), behaving as kreuzwerker/terraform-provider-docker does.

What the real provider does (internal/provider/resource_docker_service_funcs.go,
resource_docker_config.go, resource_docker_secret.go):
- Service: create = ServiceCreate (QueryRegistry: the engine only warns when no registry answers);
  every change but `name` is an in-place ServiceUpdate at the service's current version (Swarm
  then rolls the tasks by its update_config); without converge_config neither waits for tasks;
  delete = ServiceRemove. `name` forces a replacement.
- A service's networks are read back after every create and update (flattenTaskNetworksAdvanced:
  `id` = the Target Swarm stores, which is the network's id whatever the spec named; no `name`),
  and every field of `networks_advanced` forces a new service: a network declared otherwise than
  that read (by `name`) replaces the service at every plan.
- ServiceConfig and Secret: immutable in Swarm; a change of `name` or `data` replaces them
  (create the new one first, delete the old one after the services moved to it).

Plugged into harness.DockerProvider by `handlers(provider)`, `delete(provider, entry)` and `RANK`.
"""

from __future__ import annotations

import hashlib
import secrets as _secrets
from typing import Optional

from docker.errors import NotFound


def _request(engine, method: str, path: str, *, query: dict | None = None, body: dict | None = None):
    """One Engine API call through the Docker SDK's low-level client (the harness' engine)."""
    url = engine._url(path.replace("{", "{{").replace("}", "}}"))
    if method == "GET":
        response = engine._get(url, params=query)
    elif method == "POST":
        response = engine._post_json(url, data=body or {}, params=query)
    elif method == "DELETE":
        response = engine._delete(url, params=query)
    else:
        raise ValueError(method)
    engine._raise_for_status(response)  # docker.errors.NotFound on 404, APIError otherwise
    return response.json() if response.content else None

SERVICE = "docker:index/service:Service"
SERVICE_CONFIG = "docker:index/serviceConfig:ServiceConfig"
SECRET = "docker:index/secret:Secret"
RANDOM_ID = "random:index/randomId:RandomId"
TYPES = (SERVICE, SERVICE_CONFIG, SECRET, RANDOM_ID)
# Deletion order within a group (harness.DockerProvider.finish): services before what they use.
RANK = {SERVICE: 0, SERVICE_CONFIG: 1.5, SECRET: 1.5, RANDOM_ID: 1}

SERVICE_FORCE_NEW = {"name"}


def _label_map(labels, extra: dict) -> dict:
    return {**{l["label"]: l["value"] for l in labels or []}, **extra}


def _mount(m: dict) -> dict:
    out = {"Type": m.get("type", "volume"), "Source": m.get("source", ""), "Target": m["target"], "ReadOnly": bool(m.get("readOnly"))}
    if m.get("bindOptions"):
        out["BindOptions"] = {"Propagation": m["bindOptions"].get("propagation", "")}
    if m.get("volumeOptions"):
        vo = m["volumeOptions"]
        out["VolumeOptions"] = {"NoCopy": bool(vo.get("noCopy")), "Labels": _label_map(vo.get("labels"), {})}
    return out


def _file_ref(ref: dict, kind: str) -> dict:
    """A config or secret reference (`kind` "Config" or "Secret") as the Engine API spells it."""
    lower = kind.lower()
    return {
        "File": {"Name": ref["fileName"], "UID": str(ref.get("fileUid", "0")), "GID": str(ref.get("fileGid", "0")),
                 "Mode": int(ref.get("fileMode", 0o444))},
        f"{kind}ID": ref[f"{lower}Id"],
        f"{kind}Name": ref[f"{lower}Name"],
    }


def service_spec(inputs: dict, harness_label: str) -> dict:
    """The Engine API ServiceSpec the provider's createServiceSpec builds from these inputs."""
    from tests.support.provider_state import parse_go_duration as _duration_ns

    task = inputs["taskSpec"]
    cs = task["containerSpec"]
    container = {
        "Image": cs["image"],
        "Labels": _label_map(cs.get("labels"), {}),
        "Args": cs.get("args") or [],
        "Command": cs.get("commands") or [],
        "Env": [f"{k}={v}" for k, v in sorted((cs.get("env") or {}).items())],
        "Hostname": cs.get("hostname", ""),
        "User": cs.get("user", ""),
        "Groups": cs.get("groups") or [],
        "Mounts": [_mount(m) for m in cs.get("mounts") or []],
        "Configs": [_file_ref(c, "Config") for c in cs.get("configs") or []],
        "Secrets": [_file_ref(s, "Secret") for s in cs.get("secrets") or []],
        "CapabilityDrop": cs.get("capDrops") or [],
        "CapabilityAdd": cs.get("capAdds") or [],
        "ReadOnly": bool(cs.get("readOnly")),
    }
    if cs.get("stopGracePeriod"):
        container["StopGracePeriod"] = _duration_ns(cs["stopGracePeriod"])
    if cs.get("healthcheck"):
        hc = cs["healthcheck"]
        container["Healthcheck"] = {
            "Test": hc["tests"], "Interval": _duration_ns(hc.get("interval")), "Timeout": _duration_ns(hc.get("timeout")),
            "Retries": int(hc.get("retries", 0)), "StartPeriod": _duration_ns(hc.get("startPeriod")),
        }
    template: dict = {
        "ContainerSpec": container,
        # createServiceAdvancedNetworks: `id` when set, else the deprecated `name`.
        "Networks": [{"Target": n.get("id") or n["name"], "Aliases": n.get("aliases") or []}
                     for n in task.get("networksAdvanceds") or []],
        "ForceUpdate": int(task.get("forceUpdate", 0)),
    }
    if task.get("placement"):
        template["Placement"] = {"Constraints": task["placement"].get("constraints") or []}
    limits = (task.get("resources") or {}).get("limits") or {}
    if limits:
        template["Resources"] = {"Limits": {"MemoryBytes": int(limits.get("memoryBytes", 0)), "NanoCPUs": int(limits.get("nanoCpus", 0))}}
    if task.get("restartPolicy"):
        rp = task["restartPolicy"]
        template["RestartPolicy"] = {"Condition": rp.get("condition", "any"), "Delay": _duration_ns(rp.get("delay"))}
    if task.get("logDriver"):
        template["LogDriver"] = {"Name": task["logDriver"]["name"], "Options": task["logDriver"].get("options") or {}}
    mode = inputs.get("mode") or {}
    spec = {
        "Name": inputs["name"],
        "Labels": _label_map(inputs.get("labels"), {harness_label: "1"}),
        "TaskTemplate": template,
        "Mode": {"Global": {}} if mode.get("global") else {"Replicated": {"Replicas": int((mode.get("replicated") or {}).get("replicas", 1))}},
    }
    if inputs.get("updateConfig"):
        uc = inputs["updateConfig"]
        spec["UpdateConfig"] = {"Parallelism": int(uc.get("parallelism", 1)), "Order": uc.get("order", "stop-first")}
    endpoint = inputs.get("endpointSpec") or {}
    if endpoint:
        spec["EndpointSpec"] = {
            "Mode": endpoint.get("mode", "vip"),
            "Ports": [
                {"TargetPort": int(p["targetPort"]), "PublishedPort": int(p.get("publishedPort", 0)),
                 "PublishMode": p.get("publishMode", "ingress"), "Protocol": p.get("protocol", "tcp")}
                for p in endpoint.get("ports") or []
            ],
        }
    return spec


def read_networks(service: dict) -> list[dict]:
    """A service's `networksAdvanceds` as the provider's Read writes them into the state."""
    return [{"id": n["Target"], "aliases": sorted(n.get("Aliases") or []), "driverOpts": sorted(
        f"{k}={v}" for k, v in (n.get("DriverOpts") or {}).items())}
        for n in service["Spec"]["TaskTemplate"].get("Networks") or []]


def _network_set(networks: list[dict]) -> set[tuple]:
    """The set element identity of `networks_advanced` (every field is in its hash)."""
    return {(n.get("id") or "", n.get("name") or "", tuple(sorted(n.get("aliases") or [])),
             tuple(sorted(n.get("driverOpts") or []))) for n in networks}


def network_drift(state: dict, inputs: dict) -> bool:
    """True when the declared networks differ from those the last Read stored: all ForceNew."""
    read = (state.get("taskSpec") or {}).get("networksAdvanceds")
    if read is None:
        return False  # nothing read yet
    return _network_set(read) != _network_set((inputs.get("taskSpec") or {}).get("networksAdvanceds") or [])


class SwarmResources:
    """Handlers in the harness' contract: (urn, entry, old) -> (id, outputs, state).

    Swarm resources are diffed input against input, except a service's networks, which are read
    back as the provider does (`read_networks`); containers' whole state is read back.
    """

    def __init__(self, provider) -> None:
        self.p = provider
        self.engine = provider.engine

    @staticmethod
    def _diff(old: Optional[dict], entry: dict) -> set[str]:
        if old is None:
            return set()
        before, after = old.get("inputs") or {}, entry["inputs"]
        ignored = set(entry["options"].get("ignoreChanges", []))
        return {k for k in set(before) | set(after) if before.get(k) != after.get(k) and k not in ignored}

    @staticmethod
    def _replace_keys(entry: dict, diff: set[str], updatable: set[str]) -> set[str]:
        roc = set(entry["options"].get("replaceOnChanges", []))
        return {k for k in diff if k not in updatable or k in roc or "*" in roc}

    @staticmethod
    def _done(rid: str, outputs: dict, inputs: dict):
        return rid, outputs, {**inputs, **outputs}

    # -- services ---------------------------------------------------------------------------------

    def service(self, urn: str, entry: dict, old: Optional[dict]):
        from .harness import HARNESS_LABEL

        inputs = entry["inputs"]
        diff = self._diff(old, entry)
        spec = service_spec(inputs, HARNESS_LABEL)
        current = None
        if old is not None:
            try:
                current = _request(self.engine, "GET", f"/services/{old['id']}")
            except NotFound:
                current = None  # gone (refresh): created again
        if current is None:
            sid = _request(self.engine, "POST", "/services/create", body=spec)["ID"]
            self.p._act(urn, entry, "create", [] if old is None else ["(missing on the engine)"])
            return self._service_done(sid, inputs)
        replace = self._replace_keys(entry, diff, set(inputs) - SERVICE_FORCE_NEW)
        if network_drift(old.get("state") or {}, inputs):
            replace.add("taskSpec.networksAdvanceds")
        if replace:
            self.p._check_replace_allowed(urn, old, replace)
            # The name is taken until the old service is gone: delete first (what Docker forces).
            self._remove_service(old["id"])
            sid = _request(self.engine, "POST", "/services/create", body=spec)["ID"]
            self.p._act(urn, entry, "replace", replace)
            return self._service_done(sid, inputs)
        if diff:
            version = current["Version"]["Index"]
            _request(self.engine, "POST", f"/services/{old['id']}/update", query={"version": version}, body=spec)
            self.p._act(urn, entry, "update", diff)
        else:
            self.p._act(urn, entry, "same")
            return self._service_done(old["id"], inputs, current)  # nothing written: what was read stands
        return self._service_done(old["id"], inputs)

    def _service_done(self, sid: str, inputs: dict, service: Optional[dict] = None):
        """Create and Update end with Read: the state keeps the networks as Swarm stored them."""
        if service is None:
            service = _request(self.engine, "GET", f"/services/{sid}")
        rid, outputs, state = self._done(sid, {"id": sid}, inputs)
        state["taskSpec"] = {**(state.get("taskSpec") or {}), "networksAdvanceds": read_networks(service)}
        return rid, outputs, state

    def _remove_service(self, sid: str) -> None:
        try:
            _request(self.engine, "DELETE", f"/services/{sid}")
        except NotFound:
            pass

    # -- configs and secrets -------------------------------------------------------------------------

    def _immutable(self, kind: str, urn: str, entry: dict, old: Optional[dict]):
        from .harness import HARNESS_LABEL

        inputs = entry["inputs"]
        diff = self._diff(old, entry)
        if old is not None and not diff:
            try:
                _request(self.engine, "GET", f"/{kind}/{old['id']}")
                self.p._act(urn, entry, "same")
                return self._done(old["id"], {"id": old["id"]}, inputs)
            except NotFound:
                pass
        spec = {"Name": inputs["name"], "Data": inputs["data"], "Labels": _label_map(inputs.get("labels"), {HARNESS_LABEL: "1"})}
        new_id = _request(self.engine, "POST", f"/{kind}/create", body=spec)["ID"]
        if old is not None and diff:
            self.p._check_replace_allowed(urn, old, diff)
            self.p.pending_deletes.append((urn, old))  # after the services moved to the new one
        self.p._act(urn, entry, "replace" if old is not None and diff else "create", diff)
        return self._done(new_id, {"id": new_id}, inputs)

    def service_config(self, urn, entry, old):
        return self._immutable("configs", urn, entry, old)

    def secret(self, urn, entry, old):
        return self._immutable("secrets", urn, entry, old)

    def random_id(self, urn, entry, old):
        if old is not None and not self._diff(old, entry):
            self.p._act(urn, entry, "same")
            return old["id"], old["outputs"], old.get("state") or {**old["inputs"], **old["outputs"]}
        raw = _secrets.token_bytes(int(entry["inputs"].get("byteLength", 8)))
        self.p._act(urn, entry, "create" if old is None else "replace")
        outputs = {"hex": raw.hex(), "dec": str(int.from_bytes(raw, "big")), "b64Std": "", "b64Url": ""}
        return self._done(raw.hex(), outputs, entry["inputs"])

    def delete(self, entry: dict) -> None:
        typ = entry["type"]
        path = {SERVICE: "services", SERVICE_CONFIG: "configs", SECRET: "secrets"}.get(typ)
        if path is None:
            return
        try:
            _request(self.engine, "DELETE", f"/{path}/{entry['id']}")
        except NotFound:
            pass


def handlers(provider) -> dict:
    resources = SwarmResources(provider)
    provider.swarm = resources
    return {
        SERVICE: resources.service,
        SERVICE_CONFIG: resources.service_config,
        SECRET: resources.secret,
        RANDOM_ID: resources.random_id,
    }


def delete(provider, entry: dict) -> None:
    if not hasattr(provider, "swarm"):
        handlers(provider)
    provider.swarm.delete(entry)
