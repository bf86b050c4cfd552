"""Hypothesis strategies for valid stack config, as the user writes it (camelCase keys)."""

from hypothesis import strategies as st

from stack.settings import parse_duration_seconds

durations = st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 90), st.sampled_from(["s", "m", "h"]))
retention_times = st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 400), st.sampled_from(["d", "w"]))
sizes = st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 999), st.sampled_from(["MB", "GB", "TB"]))
ports = st.integers(1024, 65535)
memory = st.integers(64, 4096)
tags = st.from_regex(r"v?[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True)
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
addresses = st.sampled_from(["127.0.0.1", "0.0.0.0", "192.168.1.10", "::1"])


def image(repository):
    return tags.map(lambda tag: f"{repository}:{tag}")


def optional(**fields):
    """A dict holding any subset of the given fields."""
    return st.fixed_dictionaries({}, optional=fields)


def service(repository, **fields):
    return optional(enabled=st.booleans(), image=image(repository), memoryMb=memory, **fields)


prometheus = optional(
    image=image("prom/prometheus"),
    port=ports,
    scrapeInterval=durations,
    scrapeTimeout=st.builds(lambda n: f"{n}s", st.integers(1, 60)),
    retentionTime=retention_times,
    retentionSize=sizes,
    memoryMb=memory,
)

stack_config = st.fixed_dictionaries(
    {},
    optional={
        "bindAddress": addresses,
        "backendTargets": st.lists(
            st.builds(lambda h, p: f"{h}:{p}", hosts, st.integers(1, 65535)), min_size=1, max_size=3, unique=True
        ),
        "protectData": st.booleans(),
        "prometheus": prometheus,
        "grafana": service("grafana/grafana", port=ports, adminUser=st.sampled_from(["admin", "ops", "root.user"])),
        "mongodbExporter": service("percona/mongodb_exporter"),
        "nodeExporter": service("prom/node-exporter", port=ports, listenAddress=st.sampled_from(["172.17.0.1", "172.18.0.1"])),
        "cadvisor": service("gcr.io/cadvisor/cadvisor"),
        "alertmanager": service(
            "prom/alertmanager", port=ports, retention=durations, route=optional(groupWait=durations)
        ),
    },
).filter(
    # Prometheus, Grafana and Alertmanager all publish on bindAddress: their ports must differ.
    lambda c: len(
        {
            c.get("prometheus", {}).get("port", 9090),
            c.get("grafana", {}).get("port", 3000),
            c.get("alertmanager", {}).get("port", 9093),
        }
    )
    == 3
).filter(
    # A scrape may not take longer than the interval between scrapes.
    lambda c: parse_duration_seconds(c.get("prometheus", {}).get("scrapeTimeout", "1s"))
    <= parse_duration_seconds(c.get("prometheus", {}).get("scrapeInterval", "15s"))
)
