"""The stack on Docker Swarm (`monstack:platform: swarm`): settings, pure renderers, components.

`settings` and `render` import no Pulumi; `resources` and `stack` declare the Swarm objects.
"""
