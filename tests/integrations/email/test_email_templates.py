"""The approved templates analysts edit: every shipped one parses, is versioned and renders from its slots;
malformed ones fail with a message that names the template."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.email.port import TemplateError
from integrations.email.templates import TemplateLibrary


def test_every_shipped_template_is_approved_and_renders_from_its_declared_slots(
    templates: TemplateLibrary,
) -> None:
    assert templates.names() == ["first_touch", "meeting_booked"]
    for name in templates.names():
        template = templates.load(name)
        rendered = templates.render(name, {slot: f"<{slot}>" for slot in template.slots})
        assert template.approved and template.version >= 1
        assert rendered.subject and "{{" not in rendered.body and "{{" not in rendered.subject


def test_a_slot_used_but_not_declared_fails(tmp_path: Path) -> None:
    (tmp_path / "t.jinja").write_text(
        "---\nversion: 1\napproved: true\nsubject: Hi\nslots: []\n---\n{{ nope }}\n"
    )

    with pytest.raises(TemplateError, match="'t' v1 failed to render"):
        TemplateLibrary(tmp_path).render("t", {})


def test_an_unknown_slot_from_the_caller_fails(templates: TemplateLibrary) -> None:
    slots = {slot: "x" for slot in templates.load("meeting_booked").slots} | {"discount": "50%"}

    with pytest.raises(TemplateError, match="unknown slots \\['discount'\\]"):
        templates.render("meeting_booked", slots)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hi\n", "does not start with"),
        ("---\nversion: 1\n", "no closing"),
        ("---\nversion: 0\napproved: true\nsubject: s\nslots: []\n---\nHi\n", "invalid front matter"),
        ("---\nversion: 1\nsubject: s\nslots: []\n---\nHi\n", "invalid front matter"),
    ],
    ids=["no-front-matter", "unclosed", "version-zero", "approval-missing"],
)
def test_malformed_templates_are_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.jinja").write_text(text)

    with pytest.raises(TemplateError, match=message):
        TemplateLibrary(tmp_path).load("bad")


def test_a_subject_cannot_inject_headers(tmp_path: Path) -> None:
    (tmp_path / "t.jinja").write_text(
        "---\nversion: 1\napproved: true\nsubject: 'Hi {{ name }}'\nslots: [name]\n---\nBody\n"
    )

    rendered = TemplateLibrary(tmp_path).render("t", {"name": "Jo\r\nBcc: all@example.com"})

    assert "\n" not in rendered.subject and "\r" not in rendered.subject


def test_the_sandbox_keeps_templates_away_from_python_internals(tmp_path: Path) -> None:
    (tmp_path / "t.jinja").write_text(
        "---\nversion: 1\napproved: true\nsubject: s\nslots: [x]\n---\n{{ x.__class__.__mro__ }}\n"
    )

    with pytest.raises(TemplateError):
        TemplateLibrary(tmp_path).render("t", {"x": "y"})
