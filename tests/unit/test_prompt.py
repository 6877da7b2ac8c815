import pytest

from flowpo.errors import ConfigError, DataError
from flowpo.prompt import DEFAULT_TEMPLATE, Prompt, Section, check_template


def test_split_render_moves_space_to_example_side():
    p = Prompt.from_text("Be brief.")
    prefix, pattern = p.split_render(DEFAULT_TEMPLATE)
    assert prefix == "Be brief. Input :"
    assert pattern == " {text} Output:"
    assert p.render("great film", DEFAULT_TEMPLATE) == "Be brief. Input : great film Output:"


def test_prompt_template_overrides_task_template():
    p = Prompt.from_text("x", template="Review: {text}\nSentiment:")
    assert p.split_render(DEFAULT_TEMPLATE) == ("Review:", " {text}\nSentiment:")


@pytest.mark.parametrize("bad", ["{prompt} no slot", "{text} and {text}", "{prompt}{prompt}{text}"])
def test_bad_templates_are_rejected_with_a_fix(bad):
    with pytest.raises(ConfigError) as e:
        check_template(bad)
    assert "template" in str(e.value) and "Fix:" in str(e.value)


def test_markdown_round_trip_keeps_sections_frozen_and_front_matter():
    p = Prompt(
        sections=(
            Section("Task", "Say if it is positive."),
            Section("Format", "One word.", frozen=True),
        ),
        template="Review: {text}\nSentiment:",
        verbalizers={"negative": "bad", "positive": "good"},
    )
    back = Prompt.from_markdown(p.to_markdown())
    assert back == p
    assert back.verbalizers == p.verbalizers
    assert back.section("Format").frozen and not back.section("Task").frozen
    assert back.fingerprint() == p.fingerprint()


def test_text_before_first_header_is_the_instruction_section():
    p = Prompt.from_markdown("Intro line.\n\n# Examples\nA -> B\n")
    assert [s.name for s in p.sections] == ["instruction", "Examples"]
    assert p.text == "Intro line.\n\nA -> B"


def test_fingerprint_changes_with_text_template_and_verbalizers():
    base = Prompt.from_text("a")
    fps = {
        base.fingerprint("{prompt} {text}"),
        base.fingerprint("{prompt} X {text}"),
        Prompt.from_text("b").fingerprint("{prompt} {text}"),
        Prompt.from_text("a", verbalizers={"x": "y"}).fingerprint("{prompt} {text}"),
    }
    assert len(fps) == 4
    assert base.fingerprint("{prompt} {text}") == Prompt.from_text("a").fingerprint(
        "{prompt} {text}"
    )


def test_with_section_replaces_or_appends():
    p = Prompt.from_text("a").with_section("instruction", "b").with_section("Format", "c")
    assert [(s.name, s.text) for s in p.sections] == [("instruction", "b"), ("Format", "c")]


def test_bad_front_matter_and_files(tmp_path):
    with pytest.raises(DataError, match="never closed"):
        Prompt.from_markdown("---\ntemplate: x\n")
    with pytest.raises(ConfigError, match="exactly once"):
        Prompt.from_markdown("---\ntemplate: 'no slot'\n---\nhi")
    with pytest.raises(DataError, match="does not exist"):
        Prompt.from_file(tmp_path / "missing.md")
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"caf\xe9")
    with pytest.raises(DataError, match="UTF-8"):
        Prompt.from_file(bad)


def test_fingerprint_counts_inherited_template_and_label_words():
    words = {"negative": "no", "positive": "yes"}
    bare = Prompt.from_text("Judge.")
    explicit = Prompt.from_text("Judge.", template=DEFAULT_TEMPLATE, verbalizers=words)
    assert bare.fingerprint(DEFAULT_TEMPLATE, words) == explicit.fingerprint(
        DEFAULT_TEMPLATE, words
    )
    assert bare.fingerprint(DEFAULT_TEMPLATE, words) != bare.fingerprint(
        DEFAULT_TEMPLATE, {"negative": "bad", "positive": "good"}
    )


def test_calibration_flag_round_trips_and_changes_the_fingerprint():
    p = Prompt.from_text("x", template="Review: {text}\nSentiment:", calibrate=True)
    back = Prompt.from_markdown(p.to_markdown())
    assert back.calibrate and back == p
    assert Prompt.from_dict(p.to_dict()) == p
    assert p.fingerprint() != Prompt.from_text("x", template=p.template).fingerprint()
