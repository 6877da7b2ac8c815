"""Fast checks of the scale-out pieces: batcher, host guard, bad Ray/Postgres/endpoint input."""

import asyncio
import threading
import time

import pytest
from test_remote_model import FakeServer, _completion

from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError, ModelError
from flowpo.model_server.batcher import Batcher
from flowpo.model_server.server import check_host
from flowpo.run.checkpoints import redact, thread_for
from flowpo.scale.preflight import check_remote_logprobs


def test_batcher_gathers_concurrent_requests_into_one_batch():
    seen: list[list[int]] = []
    threads: set[int] = set()

    def double(items: list[int]) -> list[int]:
        seen.append(items)
        threads.add(threading.get_ident())
        time.sleep(0.01)
        return [2 * i for i in items]

    async def main() -> list[int]:
        batcher = Batcher(double, max_batch=8, wait_s=0.05)
        await batcher.start()
        try:
            return list(await asyncio.gather(*(batcher.submit(i) for i in range(5))))
        finally:
            await batcher.stop()

    assert asyncio.run(main()) == [0, 2, 4, 6, 8]  # each caller gets its own result
    assert seen == [[0, 1, 2, 3, 4]]  # one batch, in arrival order
    assert threading.get_ident() not in threads  # the model ran off the event loop


def test_batcher_respects_max_batch_and_fails_every_caller_of_a_failed_batch():
    sizes: list[int] = []

    def fn(items: list[int]) -> list[int]:
        sizes.append(len(items))
        if 13 in items:
            raise RuntimeError("boom")
        return items

    async def main() -> list[object]:
        batcher = Batcher(fn, max_batch=4, wait_s=0.05)
        try:
            return await asyncio.gather(
                *(batcher.submit(i) for i in range(10, 20)), return_exceptions=True
            )
        finally:
            await batcher.stop()

    out = asyncio.run(main())
    assert max(sizes) == 4 and sum(sizes) == 10
    failed = [i for i, o in zip(range(10, 20), out, strict=True) if isinstance(o, RuntimeError)]
    assert 13 in failed and len(failed) == 4  # the whole batch of 13, the others answered
    assert all(o == i for i, o in zip(range(10, 20), out, strict=True) if i not in failed)


def test_server_refuses_a_public_address_without_the_flag():
    check_host("127.0.0.1", allow_public=False)
    check_host("localhost", allow_public=False)
    with pytest.raises(ConfigError, match="allow-public") as err:
        check_host("0.0.0.0", allow_public=False)
    assert err.value.field == "host"
    check_host("0.0.0.0", allow_public=True)


def test_checkpointer_url_is_validated_and_redacted():
    with pytest.raises(ConfigError) as err:
        make_config(OptimizeConfig, checkpointer="mysql://x@h/db")
    assert err.value.field == "checkpointer"
    assert redact("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    sqlite = OptimizeConfig(run_dir="runs/a")
    pg = OptimizeConfig(run_dir="runs/a", checkpointer="postgresql://u@h/db")
    assert thread_for(sqlite)["configurable"]["thread_id"] == "run"
    other = OptimizeConfig(run_dir="runs/b", checkpointer="postgresql://u@h/db")
    ids = {thread_for(c)["configurable"]["thread_id"] for c in (pg, other)}
    assert len(ids) == 2  # two runs never share a Postgres thread


def test_a_refusing_postgres_url_is_a_clear_error():
    from flowpo.run.checkpoints import connect_postgres

    start = time.time()
    with pytest.raises(ConfigError, match=r"cannot connect .*127\.0\.0\.1:1") as err:
        asyncio.run(connect_postgres("postgresql://u:secret@127.0.0.1:1/db"))
    assert "secret" not in str(err.value) and time.time() - start < 10


def test_a_ray_address_that_does_not_answer_fails_fast():
    import ray  # noqa: F401  (imported first: the clock times the address check, not the import)

    from flowpo.scale.ray_target import ensure_ray

    start = time.time()
    with pytest.raises(ConfigError, match="does not answer") as err:
        ensure_ray("ray://127.0.0.1:1")
    assert err.value.field == "ray_address" and time.time() - start < 10


def test_an_endpoint_without_logprobs_is_refused_for_verbalizer_scoring():
    server = FakeServer(lambda body: (200, _completion("yes", top=None)))
    good = FakeServer(lambda body: (200, _completion("yes", top=[("yes", -0.1)])))
    try:
        _check_both(server, good)
    finally:
        server.close()
        good.close()


def _check_both(server: FakeServer, good: FakeServer) -> None:
    with pytest.raises(ModelError, match="does not return log-probs") as err:
        asyncio.run(check_remote_logprobs(f"openai-compatible:{server.base_url}#fake"))
    assert err.value.field == "logprobs"
    body = server.requests[0]
    assert body["logprobs"] is True
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 1
    asyncio.run(check_remote_logprobs(f"openai-compatible:{good.base_url}#fake"))
