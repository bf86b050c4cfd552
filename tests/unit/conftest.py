import pytest

from tests.support.pulumi_program import RecordingMocks, run_program

MONGODB_URI = "mongodb://exporter:s3cret@mongo:27017/admin"


@pytest.fixture
def deploy():
    """Run the real program under mocks with the given plain config (and a MongoDB URI secret)."""

    def _deploy(config=None, *, secrets=None, existing_networks=(), stack="dev"):
        secrets = {"mongodbUri": MONGODB_URI} if secrets is None else secrets
        return run_program(
            config or {},
            secrets=secrets,
            stack=stack,
            mocks=RecordingMocks(existing_networks=existing_networks),
        )

    return _deploy
