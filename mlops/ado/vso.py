"""Logging commands a step prints (``##vso[area.action key=value;...]message``).

Format and properties: https://learn.microsoft.com/en-us/azure/devops/pipelines/scripts/logging-commands
(task.setvariable: variable, isOutput, isSecret, isReadOnly; task.logissue: type error|warning;
task.prependpath; task.complete result=Succeeded|SucceededWithIssues|Failed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMAND = re.compile(r"##vso\[(?P<area>[\w-]+)\.(?P<action>[\w-]+)(?P<props>[^\]]*)\](?P<msg>.*)$")


@dataclass(frozen=True)
class LoggingCommand:
    """One ``##vso[area.action props]message`` line, parsed (Azure DevOps' name for it)."""

    area: str
    action: str
    props: dict[str, str]
    message: str

    @property
    def name(self) -> str:
        return f"{self.area}.{self.action}".lower()

    def flag(self, key: str) -> bool:
        return self.props.get(key.lower(), "false").strip().lower() == "true"


def _unescape(text: str) -> str:
    # Escapes of the agent's command format: %3B ; %0D \r %0A \n %5D ] %25 %
    for code, char in (("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%25", "%")):
        text = text.replace(code, char)
    return text


def parse(line: str) -> LoggingCommand | None:
    """The logging command in a line of output, or None. Properties are case-insensitive."""
    index = line.find("##vso[")
    if index < 0:
        return None
    match = _COMMAND.match(line[index:].rstrip("\r\n"))
    if match is None:
        return None
    props: dict[str, str] = {}
    for part in match.group("props").split(";"):
        key, sep, value = part.strip().partition("=")
        if key:
            props[key.lower()] = _unescape(value) if sep else ""
    return LoggingCommand(
        match.group("area").lower(),
        match.group("action").lower(),
        props,
        _unescape(match.group("msg")),
    )
