"""``flowpo optimize --help`` is grouped and typed; config errors name the command's flag."""

import re

import pytest
from click.testing import CliRunner

from flowpo.cli import cli
from flowpo.config import OptimizeConfig, make_config
from flowpo.errors import ConfigError


def help_text(command):
    out = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
    assert out.exit_code == 0
    return out.output


def test_optimize_help_is_grouped_in_order():
    text = help_text("optimize")
    headings = re.findall(r"^(\S[^:\n]*):$", text, re.M)
    assert headings[:7] == [
        "Data",
        "Search",
        "Budget and stopping",
        "Models",
        "Memory",
        "Output",
        "GFlowPO sampler",
    ]
    assert text.index("--gfn-lora-r") > text.index("GFlowPO sampler:")
    assert text.index("--memory-snapshot") > text.index("Memory:")


def test_flags_have_real_types():
    text = help_text("optimize")
    assert re.search(r"--max-epochs INTEGER", text)
    assert re.search(r"--soft-weight FLOAT", text)
    assert re.search(r"--edit-format BOOLEAN", text)
    assert re.search(r"--run-dir PATH", text)
    assert re.search(r"--optimizer \[msgd\|msgd-rl\]", text)
    assert " TEXT " not in text.split("--max-epochs")[1].split("\n")[0]
    assert re.search(r"--limit INTEGER", help_text("eval"))


def test_a_bad_value_names_the_commands_flag():
    with pytest.raises(ConfigError) as e:
        make_config(OptimizeConfig, max_epochs=0)
    assert "--max-epochs" in str(e.value)
    assert "flowpo optimize --help" in str(e.value) and "FLOWPO_MAX_EPOCHS" in str(e.value)
    out = CliRunner().invoke(cli, ["optimize", "--max-epochs", "many"])
    assert out.exit_code == 2 and "'many' is not a valid integer" in out.output
