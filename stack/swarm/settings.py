"""Settings that only mean something on Docker Swarm (`monstack:swarm`)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["SwarmSettings"]

_NODE_LABEL_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$")


def _node_label(value: str) -> str:
    if not _NODE_LABEL_RE.match(value):
        raise ValueError(f"{value!r} is not a node label key (letters, digits, '.', '_', '-')")
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"{value!r} is not an absolute path")
    return value


class SwarmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)

    # Prometheus and Grafana run on the node labelled `<dataNodeLabel>=true`, where their
    # volumes live (`docker node update --label-add monstack.data=true NODE`).
    data_node_label: Annotated[str, AfterValidator(_node_label)] = "monstack.data"
    # true: Prometheus discovers tasks through the Swarm API (dockerswarm_sd_configs) and labels
    # every target with `node`; that needs the Docker socket of a manager in Prometheus, which is
    # root on the whole swarm, so Prometheus then runs as root on a manager. false: DNS
    # (`tasks.<service>`), no socket; the node name is then in node_uname_info{nodename}.
    node_name_labels: bool = False
    # The managers' Docker socket on the host (mounted into Prometheus with nodeNameLabels only).
    docker_socket: Annotated[str, AfterValidator(_absolute_path)] = "/var/run/docker.sock"
    # Publish Prometheus' and Grafana's ports on the data node. Swarm cannot bind one address:
    # a published port listens on every address of the node (bindAddress must say 0.0.0.0).
    publish: bool = False
