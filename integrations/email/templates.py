"""Approved email templates: Jinja files with YAML front matter in the policy folder, owned by analysts.

Rendering is strict: a slot the template uses but the caller did not give, or a slot the caller gives that
the template does not declare, stops the send. A sandboxed Jinja environment keeps a template from reaching
Python objects, since the people who edit templates are not the people who review code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from jinja2 import StrictUndefined
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from integrations.email.port import TemplateError

TEMPLATE_SUFFIX = ".jinja"
_FRONT_MATTER_FENCE = "---"


class TemplateFrontMatter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    approved: bool
    subject: str = Field(min_length=1)
    slots: tuple[str, ...]


@dataclass(frozen=True)
class EmailTemplate:
    name: str
    version: int
    approved: bool
    subject: str
    body: str
    slots: frozenset[str]


@dataclass(frozen=True)
class RenderedEmail:
    template: str
    version: int
    subject: str
    body: str


def parse_template(name: str, text: str) -> EmailTemplate:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FRONT_MATTER_FENCE:
        raise TemplateError(f"template {name!r} does not start with a '---' front matter block")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == _FRONT_MATTER_FENCE)
    except StopIteration:
        raise TemplateError(f"template {name!r} has no closing '---' after its front matter") from None
    try:
        front = TemplateFrontMatter.model_validate(yaml.safe_load("".join(lines[1:end])) or {})
    except (yaml.YAMLError, ValidationError) as error:
        raise TemplateError(f"template {name!r} has invalid front matter: {error}") from error
    return EmailTemplate(
        name=name,
        version=front.version,
        approved=front.approved,
        subject=front.subject,
        body="".join(lines[end + 1 :]),
        slots=frozenset(front.slots),
    )


class TemplateLibrary:
    """The templates of one policy folder, read when asked for (an analyst's edit is picked up at once)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._env = SandboxedEnvironment(
            undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
        )

    def names(self) -> list[str]:
        return sorted(
            path.name.removesuffix(TEMPLATE_SUFFIX) for path in self.folder.glob("*" + TEMPLATE_SUFFIX)
        )

    def load(self, name: str) -> EmailTemplate:
        path = self.folder / f"{name}{TEMPLATE_SUFFIX}"
        if "/" in name or "\\" in name or not path.is_file():
            raise TemplateError(f"no email template named {name!r} in {self.folder}")
        return parse_template(name, path.read_text(encoding="utf-8"))

    def render(self, name: str, slots: dict[str, str]) -> RenderedEmail:
        template = self.load(name)
        if not template.approved:
            raise TemplateError(f"template {name!r} v{template.version} is not approved")
        missing = template.slots - slots.keys()
        unknown = slots.keys() - template.slots
        if missing or unknown:
            raise TemplateError(
                f"template {name!r} v{template.version}: missing slots {sorted(missing)}, "
                f"unknown slots {sorted(unknown)}"
            )
        try:
            subject = self._env.from_string(template.subject).render(slots)
            body = self._env.from_string(template.body).render(slots)
        except JinjaTemplateError as error:
            raise TemplateError(f"template {name!r} v{template.version} failed to render: {error}") from error
        # A subject with a line break would inject headers; collapse it to one line.
        return RenderedEmail(
            template=name, version=template.version, subject=" ".join(subject.split()), body=body
        )
