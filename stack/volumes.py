"""Named data volumes that outlive the stack."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from .settings import Settings

__all__ = ["kept_volume"]


def kept_volume(resource_name: str, volume_name: str, settings: Settings, *, parent: pulumi.Resource) -> docker.Volume:
    """A named volume kept on `pulumi destroy`, and protected when `protectData` is set.

    Its inputs are its name and a fixed label, nothing derived from other settings, so no
    change of configuration can ever replace it.  A volume of that name that already exists
    (kept by an earlier `pulumi destroy`, or made by hand) is adopted as it is: Docker hands it
    back with its own labels, which the provider reads into the state; `ignore_changes` keeps
    them from planning a replacement on every `pulumi up`.  The label is set only on volumes
    this stack creates.
    """
    return docker.Volume(
        resource_name,
        name=volume_name,
        labels=[docker.VolumeLabelArgs(label="monstack.volume", value=volume_name)],
        opts=pulumi.ResourceOptions(
            parent=parent, retain_on_delete=True, protect=settings.protect_data, ignore_changes=["labels"]
        ),
    )
