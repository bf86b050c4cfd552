"""The MongoDB URI: replica sets and several hosts turn direct connect off; malformed ones fail at
preview naming the key, never echoing the secret."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from catalogue.mongodb_uri import MongoUriError, parse_mongodb_uri
from stack.config import ConfigError
from tests.support.pulumi_program import RecordingMocks, run_program


@pytest.mark.parametrize(
    "uri",
    [
        "mongodb://mongo:27017",
        "mongodb://user:p%40ss@mongo:27017/admin?authSource=admin",
        "mongodb://mongo",
        "mongodb://[::1]:27017",
        "mongodb://%2Ftmp%2Fmongodb-27017.sock",
        "mongodb://mongo:27017/?directConnection=true",
    ],
)
def test_one_host_connects_directly(uri):
    assert parse_mongodb_uri(uri).direct_connect is True


@pytest.mark.parametrize(
    "uri",
    [
        "mongodb://a:27017,b:27017,c:27017/?replicaSet=rs0",
        "mongodb://a:27017,b:27017",
        "mongodb://mongo:27017/?replicaSet=rs0",
        "mongodb://mongo:27017/admin?ReplicaSet=rs0&authSource=admin",
        "mongodb://mongo?replicaSet=rs0",
        "mongodb+srv://user:pw@cluster0.example.net/admin",
        "mongodb://mongo:27017/?directConnection=false",
    ],
)
def test_replica_sets_several_hosts_and_srv_discover_members(uri):
    assert parse_mongodb_uri(uri).direct_connect is False


@pytest.mark.parametrize(
    "uri, problem",
    [
        ("", "empty"),
        ("http://mongo:27017", "must start with"),
        ("mongodb://", "names no host"),
        ("mongodb://a:27017,,b", "names no host"),
        ("mongodb://mongo:99999", "port"),
        ("mongodb://mongo:abc", "port"),
        ("mongodb://::1:27017", "brackets"),
        ("mongodb://[zz]:27017", "IPv6"),
        ("mongodb://@mongo", "user name"),
        ("mongodb://mo ngo:27017", "white space"),
        ("mongodb+srv://a.example.net:27017", "exactly one host"),
        ("mongodb+srv://a.example.net,b.example.net", "exactly one host"),
        ("mongodb://a,b/?directConnection=true", "directConnection"),
        ("mongodb://mongo/?replicaSet", "=value"),
    ],
)
def test_malformed_uris_are_refused_with_the_reason(uri, problem):
    with pytest.raises(MongoUriError, match=problem):
        parse_mongodb_uri(uri)


SECRET_PARTS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=24)


@given(password=SECRET_PARTS, junk=st.sampled_from(["mongodb://u:{}@", "mongodb://u:{}@h:0", "http://u:{}@h", "mongodb://u:{}@a,,b"]))
def test_an_error_never_contains_the_password(password, junk):
    uri = junk.format(password)
    with pytest.raises(MongoUriError) as caught:
        parse_mongodb_uri(uri)
    assert password not in str(caught.value)


def test_a_malformed_uri_fails_at_preview_naming_the_key_not_the_value():
    secret = "mongodb://exporter:hunter2-very-secret@mongo:notaport/admin"
    with pytest.raises(ConfigError) as caught:
        run_program({}, secrets={"mongodbUri": secret}, mocks=RecordingMocks(), preview=True)
    message = str(caught.value)
    assert "monstack:mongodbUri" in message and "port" in message
    assert "hunter2" not in message and secret not in message


def exporter_command(deploy, uri):
    return deploy(secrets={"mongodbUri": uri}).containers["monstack-dev-mongodb-exporter"].inputs["command"]


def test_the_exporter_discovers_replica_set_members(deploy):
    assert "--no-mongodb.direct-connect" in exporter_command(deploy, "mongodb://a:27017,b:27017/?replicaSet=rs0")


def test_the_exporter_connects_directly_to_a_single_host(deploy):
    assert "--no-mongodb.direct-connect" not in exporter_command(deploy, "mongodb://mongo:27017")
