import pytest

from flowpo.errors import ConfigError, FlowpoError
from flowpo.models.device import pick_device, pick_dtype
from flowpo.models.spec import ModelSpec, parse_spec


def test_parse_the_three_spec_forms():
    assert parse_spec("local:smollm2-135m") == ModelSpec("local", "smollm2-135m")
    assert parse_spec("openai:gpt-4o-mini") == ModelSpec("openai", "gpt-4o-mini")
    assert parse_spec("openai-compatible:http://127.0.0.1:8000/v1#Qwen2.5-7B") == ModelSpec(
        "openai-compatible", "Qwen2.5-7B", "http://127.0.0.1:8000/v1"
    )


@pytest.mark.parametrize(
    "spec",
    [
        "smollm2",
        "hf:gpt2",
        "openai-compatible:127.0.0.1#m",
        "openai-compatible:http://x/v1",
        "local:",
    ],
)
def test_unknown_specs_say_which_forms_work(spec):
    with pytest.raises(ConfigError) as e:
        parse_spec(spec)
    assert e.value.field == "model" and "openai-compatible:" in str(e.value)


def test_device_and_dtype_choices():
    assert pick_device("cpu") == "cpu"
    assert pick_dtype("float32", "cpu") == "float32"
    assert pick_dtype("auto", "cpu") in {"float32", "bfloat16"}
    with pytest.raises(ConfigError, match="dtype"):
        pick_dtype("int3", "cpu")
    with pytest.raises(ConfigError, match="device"):
        pick_device("tpu")


def test_error_message_names_where_field_and_fix():
    e = FlowpoError("bad thing", where="data.jsonl:3", field="target", fix="add it")
    assert str(e) == "data.jsonl:3: bad thing (field 'target'). Fix: add it"
