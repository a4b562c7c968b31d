"""Strategy specs: the shipped ones load; errors name the line; the content hash is stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from overdue.strategy.spec import SpecError, content_hash, load_spec, parse_spec

MINIMAL = """\
name: tiny
version: "1"
experiment:
  salt: s
  holdout_share: 0.1
segments:
  - name: late
    priority: 1
    when: {dpd: {min: 1}}
    path: remind
paths:
  remind:
    steps:
      - id: sms_1
        day: 1
        channel: sms
        tone: friendly
"""


def test_shipped_specs_load_with_name_version_and_hash() -> None:
    for name in ("default", "aggressive"):
        spec = load_spec(name)
        assert spec.name == name
        assert len(spec.content_hash) == 64
        assert spec.strategy_version == f"{spec.version}+{spec.content_hash[:12]}"


def test_examples_are_links_to_the_shipped_specs() -> None:
    root = Path(__file__).resolve().parents[2]
    for name in ("default", "aggressive"):
        link = root / "examples" / "strategies" / f"{name}.yaml"
        assert link.is_symlink()
        assert load_spec(link).content_hash == load_spec(name).content_hash


def test_hash_ignores_comments_and_layout_but_not_values() -> None:
    spec = parse_spec(MINIMAL, "a.yaml")
    reformatted = "# a comment\n" + MINIMAL.replace(
        "when: {dpd: {min: 1}}", "when:\n      dpd:\n        min: 1"
    )
    assert parse_spec(reformatted, "b.yaml").content_hash == spec.content_hash
    changed = MINIMAL.replace("holdout_share: 0.1", "holdout_share: 0.2")
    assert parse_spec(changed, "c.yaml").content_hash != spec.content_hash
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("channel: sms", "channel: pigeon", 16, "steps.0.channel"),
        ("tone: friendly", "tone: angry", 17, "steps.0.tone"),
        ("holdout_share: 0.1", "holdout_share: 0.9", 5, "holdout_share"),
        ("    priority: 1\n", "    priority: 1\n    colour: red\n", 9, "colour"),
        ("    path: remind", "    path: nowhere", 1, "no path named 'nowhere'"),
        ("        day: 1\n", "        day: one\n", 15, "steps.0.day"),
        ("      - id: sms_1\n", "      - id: Bad Id\n", 14, "steps.0.id"),
    ],
)
def test_errors_name_the_line_and_field(old: str, new: str, line: int, words: str) -> None:
    text = MINIMAL.replace(old, new)
    assert text != MINIMAL
    with pytest.raises(SpecError) as info:
        parse_spec(text, "bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml: "), message
    assert f"line {line}:" in message, message
    assert words in message, message


def test_a_missing_field_names_the_enclosing_line() -> None:
    text = MINIMAL.replace("        channel: sms\n", "")
    with pytest.raises(
        SpecError, match=r"line 14: paths\.remind\.steps\.0\.channel: Field required"
    ):
        parse_spec(text, "bad.yaml")


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(SpecError, match=r"bad.yaml: line 5: not valid YAML"):
        parse_spec(MINIMAL.replace("  salt: s", "  salt: [s"), "bad.yaml")


def test_a_template_that_does_not_exist_is_refused_at_load(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "        tone: friendly\n", "        tone: friendly\n        template: nope\n"
    )
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=r"template en/nope: missing"):
        load_spec(path)


def test_a_third_party_step_needs_a_locate_template(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "        tone: friendly\n",
        "        tone: friendly\n        recipient: third_party\n        template: sms_friendly\n",
    )
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="third party only gets a \\*_locate template"):
        load_spec(path)


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")


def test_the_example_in_the_docs_loads_with_its_templates(tmp_path: Path) -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "strategy" / "specs.md").read_text(encoding="utf-8")
    text = re.search(r"```yaml\n(.*?)```", page, re.S)
    assert text is not None
    path = tmp_path / "doc.yaml"
    path.write_text(text.group(1), encoding="utf-8")
    spec = load_spec(path)
    assert spec.daily_limits() == {"sms": 100000, "voice_agent": 1600, "voice_robot": 10000}
