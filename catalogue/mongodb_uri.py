"""Reading a MongoDB connection string far enough to start the exporter right, without echoing it.

The URI is a secret: every error here names what is wrong, never the value. Format:
mongodb://[user:password@]host[:port][,host[:port]...][/[database]][?options] or
mongodb+srv://[user:password@]host[/[database]][?options] (MongoDB's connection string spec).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

__all__ = ["MongoUri", "MongoUriError", "parse_mongodb_uri"]

_HOSTNAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$")


class MongoUriError(ValueError):
    """The connection string is malformed; the message never contains the string itself."""


@dataclass(frozen=True)
class MongoUri:
    srv: bool
    hosts: tuple[str, ...]
    options: dict

    @property
    def direct_connect(self) -> bool:
        """Whether the exporter may connect to the one named host only (percona's default).

        A direct connection is invalid with several hosts, an SRV record or a replica set: the
        driver must discover the members, or `mongodb_up` stays 0.
        """
        if self.srv or len(self.hosts) > 1 or "replicaset" in self.options:
            return False
        return self.options.get("directconnection", "true").lower() != "false"


def _check_host(host: str) -> None:
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise MongoUriError("a bracketed host is not an IPv6 address") from None
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            raise MongoUriError("unexpected text after an IPv6 host")
    else:
        if unquote(host).endswith(".sock"):
            return  # a unix domain socket path, percent-encoded
        name, _, port = host.partition(":") if host.count(":") == 1 else (host, "", None)
        if host.count(":") > 1:
            raise MongoUriError("an IPv6 host must be written in brackets ([::1]:27017)")
        if not name or not _HOSTNAME.match(name):
            raise MongoUriError("a host name is empty or holds characters a host name cannot have")
        port = port if port != "" else None
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise MongoUriError("a port is not a number from 1 to 65535")


def parse_mongodb_uri(uri: str) -> MongoUri:
    """The facts of a connection string the stack needs; MongoUriError (value not echoed) when malformed."""
    if not isinstance(uri, str) or not uri.strip():
        raise MongoUriError("it is empty")
    if uri != uri.strip() or any(c.isspace() for c in uri):
        raise MongoUriError("it contains white space")
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("mongodb", "mongodb+srv"):
        raise MongoUriError("it must start with mongodb:// or mongodb+srv://")
    authority, _, tail = rest.partition("/")
    if "?" in authority:  # options without a path: mongodb://host?replicaSet=rs0
        authority, _, query = authority.partition("?")
    else:
        _, _, query = tail.partition("?")
    if "@" in authority:
        userinfo, _, hostlist = authority.rpartition("@")
        if not userinfo:
            raise MongoUriError("the user name before '@' is empty")
    else:
        hostlist = authority
    hosts = tuple(hostlist.split(","))
    if not hostlist or any(not h for h in hosts):
        raise MongoUriError("it names no host, or an empty one between commas")
    for host in hosts:
        _check_host(host)
    srv = scheme == "mongodb+srv"
    if srv and (len(hosts) != 1 or ":" in hosts[0].rsplit("]", 1)[-1]):
        raise MongoUriError("mongodb+srv:// takes exactly one host name and no port")
    for pair in filter(None, query.split("&")):
        if "=" not in pair:
            raise MongoUriError("an option has no '=value'")
    options = {key.lower(): value for key, value in parse_qsl(query, keep_blank_values=True)}
    uri_facts = MongoUri(srv=srv, hosts=hosts, options=options)
    if options.get("directconnection", "").lower() == "true" and (len(hosts) > 1 or srv):
        raise MongoUriError("it sets directConnection=true with several hosts or an SRV record, which MongoDB refuses")
    return uri_facts
