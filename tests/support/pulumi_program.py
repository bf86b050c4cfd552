"""Run the real `__main__.py` under Pulumi mocks, as `pulumi up` would, and record what it declares.

Pulumi's documented way to test a program without the engine: `pulumi.runtime.set_mocks`.
The monitor is extended to record each registration's resource options (retainOnDelete,
protect, deleteBeforeReplace, ...), which the mocks alone do not see.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import runpy
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import pulumi
import pulumi.runtime.settings as pulumi_settings
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

__all__ = ["Declared", "Deployment", "ProgramMocks", "RecordingMocks", "Registration", "run_program", "PROJECT_ROOT"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Declared:
    """One registered resource: its type, logical name, resolved inputs and options."""

    typ: str
    name: str
    urn: str
    inputs: dict
    custom: bool
    parent: str
    retain_on_delete: bool
    protect: bool
    delete_before_replace: bool
    replace_on_changes: tuple[str, ...]
    secret_inputs: frozenset[str] = frozenset()
    ignore_changes: tuple[str, ...] = ()


@dataclass
class Deployment:
    resources: list[Declared] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[tuple[str, dict]] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Declared]:
        return [r for r in self.resources if r.typ == typ]

    @property
    def containers(self) -> dict[str, Declared]:
        """Containers by their Docker name."""
        return {r.inputs["name"]: r for r in self.of_type("docker:index/container:Container")}

    @property
    def volumes(self) -> list[Declared]:
        return self.of_type("docker:index/volume:Volume")

    @property
    def networks(self) -> list[Declared]:
        return self.of_type("docker:index/network:Network")

    def by_urn(self, urn: str) -> Declared:
        return next(r for r in self.resources if r.urn == urn)


@dataclass(frozen=True)
class Registration:
    """What a provider sees of a registration beyond MockResourceArgs: the URN and the options."""

    urn: str
    retain_on_delete: bool
    protect: bool
    delete_before_replace: bool
    replace_on_changes: tuple[str, ...]
    ignore_changes: tuple[str, ...]


class ProgramMocks(pulumi.runtime.Mocks):
    """Mocks that can read the current registration's URN and options in `new_resource`.

    Pulumi registers resources from several executor threads at once; each registration
    calls `new_resource` synchronously on its own thread, so the value is thread-local.
    """

    _local = threading.local()

    @property
    def registration(self) -> Registration:
        return self._local.registration

    @registration.setter
    def registration(self, value: Registration) -> None:
        self._local.registration = value


class RecordingMocks(ProgramMocks):
    """Answers like a provider would: echoes inputs, makes ids, resolves the app network."""

    def __init__(self, existing_networks: Iterable[str] = ()) -> None:
        self.existing_networks = set(existing_networks)
        self.invokes: list[tuple[str, dict]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = "sha256:" + hashlib.sha256(args.inputs["name"].encode()).hexdigest()
            state["repoDigest"] = f"{args.inputs['name']}@sha256:{'0' * 64}"
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = "mock-generated-password-" + "x" * 8
        if args.typ == "random:index/randomId:RandomId":
            state["hex"] = hashlib.sha256(args.name.encode()).hexdigest()[: 2 * int(args.inputs.get("byteLength", 8))]
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "docker:index/getNetwork:getNetwork":
            name = args.args["name"]
            if name not in self.existing_networks:
                raise Exception(f"Could not find docker network: {name}")
            return {"id": f"{name}-id", "name": name, "driver": "bridge", "internal": False, "scope": "local"}
        raise NotImplementedError(args.token)




def _unwrap_secrets(value: Any) -> tuple[Any, bool]:
    """A value with Pulumi's secret wrappers removed, and whether it held any secret."""
    if isinstance(value, dict):
        # How Pulumi marks a secret value on the wire.
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _unwrap_secrets(value["value"])[0], True
        pairs = {k: _unwrap_secrets(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(secret for _, secret in pairs.values())
    if isinstance(value, list):
        pairs = [_unwrap_secrets(v) for v in value]
        return [v for v, _ in pairs], any(secret for _, secret in pairs)
    return value, False


class _RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, deployment: Deployment) -> None:
        super().__init__(mocks)
        self.deployment = deployment

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack" and isinstance(self.mocks, ProgramMocks):
            # new_resource runs synchronously inside super().RegisterResource, on this thread.
            self.mocks.registration = Registration(
                urn=self.make_urn(request.parent, request.type, request.name),
                retain_on_delete=bool(request.retainOnDelete),
                protect=bool(request.protect),
                delete_before_replace=bool(request.deleteBeforeReplace),
                replace_on_changes=tuple(request.replaceOnChanges),
                ignore_changes=tuple(request.ignoreChanges),
            )
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            state = self.resources[response.urn].state if response.urn in self.resources else {}
            unwrapped = {key: _unwrap_secrets(value) for key, value in state.items()}
            self.deployment.resources.append(
                Declared(
                    typ=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs={key: value for key, (value, _) in unwrapped.items()},
                    custom=request.custom,
                    parent=request.parent,
                    retain_on_delete=request.retainOnDelete,
                    protect=request.protect,
                    delete_before_replace=request.deleteBeforeReplace,
                    replace_on_changes=tuple(request.replaceOnChanges),
                    secret_inputs=frozenset(key for key, (_, secret) in unwrapped.items() if secret),
                    ignore_changes=tuple(request.ignoreChanges),
                )
            )
        return response


def _config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it over: strings, objects and lists as JSON."""
    return {
        (key if ":" in key else f"monstack:{key}"): (value if isinstance(value, str) else json.dumps(value))
        for key, value in config.items()
    }


def run_program(
    config: Mapping[str, Any],
    *,
    secrets: Mapping[str, str] = {},
    stack: str = "dev",
    mocks: Optional[ProgramMocks] = None,
    program: Path = PROJECT_ROOT / "__main__.py",
    preview: bool = False,
) -> Deployment:
    """Run the program once with this config (keys with or without `monstack:`); return what it declared.

    `preview=True` runs it as `pulumi preview` does (outputs of new resources unknown).

    Errors raised by the program (for example a config error) propagate to the caller.
    """
    deployment = Deployment()
    mocks = mocks or RecordingMocks()
    all_config = {**_config_strings(config), **_config_strings(secrets)}
    secret_keys = [key if ":" in key else f"monstack:{key}" for key in secrets]
    # Pulumi's runtime drives its own event loop; other tests (asyncio.run) may have left none.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_all_config(all_config, secret_keys)
    pulumi_settings.set_root_resource(None)
    monitor = _RecordingMonitor(mocks, deployment)
    pulumi.runtime.set_mocks(mocks, project="monstack", stack=stack, preview=preview, monitor=monitor)

    @pulumi.runtime.test
    def execute():
        runpy.run_path(str(program), run_name="__main__")
        root = pulumi_settings.get_root_resource()
        outputs = dict(getattr(root, "outputs", {}) or {})
        if not outputs:
            return None
        keys = sorted(outputs)
        return pulumi.Output.all(*(outputs[k] for k in keys)).apply(
            lambda values: deployment.outputs.update(dict(zip(keys, values)))
        )

    try:
        execute()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        # A failed run leaves futures whose exceptions nobody retrieved; their finalizers log.
        # Run them here rather than at a random later allocation: in CPython 3.11, a finalizer
        # that runs inside `ast.parse` (pytest's assertion rewriting) breaks it with
        # "AST constructor recursion depth mismatch".
        gc.collect()
    if isinstance(mocks, RecordingMocks):
        deployment.invokes = list(mocks.invokes)
    return deployment
