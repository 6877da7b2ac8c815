import pytest


@pytest.fixture(scope="session")
def embedded():
    """The real embedded SmolLM2-135M, float32 (loaded once for the whole session)."""
    from flowpo.models.local import LocalLM

    return LocalLM(dtype="float32", batch_size=8)
