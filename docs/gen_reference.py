"""Writes the reference pages that must not drift, at each `mkdocs build` (mkdocs-gen-files):
the command line from deepq's argparse parser, the hyperparameters and presets from config.py."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re

import mkdocs_gen_files

from deepq.cli import build_parser
from deepq.config import PRESETS, DQNConfig

os.environ["COLUMNS"] = "100"  # argparse wraps its help to the terminal: the same width on every host


def commands(parser: argparse.ArgumentParser, path: str):
    """(``deepq train``, its parser) for the command and every subcommand, depth first."""
    yield path, parser
    for action in parser._actions:  # argparse keeps subcommands here; it has no public walk
        if isinstance(getattr(action, "choices", None), dict):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")


def cli_page() -> str:
    out = ["# Command line", "",
           "Generated from `deepq`'s own parser at each build of this site: every command and",
           "option, with its help as `deepq COMMAND --help` prints it.", ""]
    for path, parser in commands(build_parser(), "deepq"):
        out += [f"## `{path}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def config_fields() -> list[tuple[str, str, str, str]]:
    """(section, key, default, meaning) for every DQNConfig field, from its source comments."""
    rows, section = [], ""
    for line in inspect.getsource(DQNConfig).splitlines():
        heading = re.match(r"\s+# --- (.+) ---", line)
        if heading:
            section = heading.group(1)
        field = re.match(r"\s+(\w+): [^=]+= (.+?)  # (.+)", line)
        if field:
            rows.append((section, field.group(1), field.group(2), field.group(3)))
    return rows


def config_page() -> str:
    defaults = DQNConfig().to_dict()
    out = ["# Hyperparameters and presets", "",
           "Generated from `src/deepq/config.py` at each build of this site. Set any key with",
           "`deepq train ENV --set KEY=VALUE` or `DQN(ENV, KEY=VALUE)`; `deepq presets` prints the same.", ""]
    section = None
    for group, key, _, meaning in config_fields():
        if group != section:
            out += ["", f"## {group.capitalize()}", "", "| key | default | meaning |", "| --- | --- | --- |"]
            section = group
        meaning = meaning.replace("|", "or")
        out.append(f"| `{key}` | `{json.dumps(defaults[key])}` | {meaning} |")
    out += ["", "## Presets", "",
            "`--preset NAME` picks one; without it, the environment's own preset (the first listed for it).", ""]
    for preset in PRESETS.values():
        out += [f"### `{preset.name}`", "", f"For `{preset.env_id}`: {preset.note}.", "",
                "| key | value |", "| --- | --- |"]
        values = preset.config().to_dict()
        out += [f"| `{key}` | `{json.dumps(values[key])}` |" for key in preset.overrides]
        out.append("")
    return "\n".join(out)


with mkdocs_gen_files.open("reference/cli.md", "w") as page:
    page.write(cli_page())
with mkdocs_gen_files.open("reference/config.md", "w") as page:
    page.write(config_page())
