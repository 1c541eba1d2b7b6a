"""The dash role's variables are described in three places that must agree:
defaults/main.yml (the values Ansible uses), meta/argument_specs.yml (types,
defaults and descriptions, checked by the playbook before it touches a host;
`ansible-doc -t role cwds.envdash.dash`) and the table in README.md
("Variables"). These tests read all three and fail on any variable, type or
default that one of them lacks or states differently.

    .venv/bin/python -m unittest discover -s tests/playbook   (scripts/test runs it)
"""

import re
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "playbooks/collections/ansible_collections/cwds/envdash/roles/dash"
DEFAULTS = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
SPECS = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text())["argument_specs"]
OPTIONS = SPECS["validate"]["options"]
# Variables with no role default: set per group or host, or worked out when absent.
WITHOUT_DEFAULT = {"dash_env"}
TABLE_HEADER = "| variable | type | default | meaning |"


def readme_table():
    """The README's variable table: {name: (type, default cell, meaning)}."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(TABLE_HEADER) + 2  # after the header and the |---| line
    rows = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name, type_, default, meaning = cells[0], cells[1], cells[2], "|".join(cells[3:])
        m = re.fullmatch(r"`(\w+)`", name)
        assert m, f"README: variable cell {name!r} is not a `name`"
        assert m.group(1) not in rows, f"README: {m.group(1)} is listed twice"
        rows[m.group(1)] = (type_, default, meaning)
    return rows


def spec_type(option):
    return option["type"] + (f" of {option['elements']}" if "elements" in option else "")


class SpecAndDefaults(unittest.TestCase):
    def test_every_default_is_declared_with_the_same_value(self):
        self.assertEqual(set(OPTIONS) - WITHOUT_DEFAULT, set(DEFAULTS), "argument_specs.yml and defaults/main.yml")
        for name, value in DEFAULTS.items():
            self.assertIn("default", OPTIONS[name], name)
            self.assertEqual(OPTIONS[name]["default"], value, f"{name}: argument_specs.yml and defaults/main.yml")
        for name in WITHOUT_DEFAULT:
            self.assertNotIn("default", OPTIONS[name], name)

    def test_every_variable_has_a_type_and_a_description(self):
        for name, option in OPTIONS.items():
            self.assertIn(option.get("type"), {"str", "int", "bool", "list", "dict"}, name)
            self.assertTrue(option.get("description"), name)
            if option["type"] == "list":
                self.assertEqual(option.get("elements"), "str", name)

    def test_every_variable_is_the_role_s(self):
        for name in OPTIONS:
            self.assertRegex(name, r"^dash_[a-z0-9_]+$")


class ReadmeTable(unittest.TestCase):
    table = readme_table()

    def test_the_same_variables(self):
        self.assertEqual(sorted(self.table), sorted(OPTIONS), "README.md table and argument_specs.yml")

    def test_the_same_types(self):
        for name, (type_, _, _) in self.table.items():
            self.assertEqual(type_, f"`{spec_type(OPTIONS[name])}`", f"README.md type of {name}")

    def test_the_same_defaults(self):
        for name, (_, cell, _) in self.table.items():
            option = OPTIONS[name]
            if "default" not in option:
                # Said in words: what happens without it.
                self.assertNotRegex(cell, r"^`", f"README.md: {name} has no default, the table shows {cell}")
                continue
            default = option["default"]
            count = re.match(r"(\d+) patterns\b", cell)
            if count and isinstance(default, list):
                # A long list, summed up: its length must be right.
                self.assertEqual(int(count.group(1)), len(default), f"README.md: number of {name} defaults")
                continue
            m = re.fullmatch(r"`([^`]*)`", cell)
            self.assertTrue(m, f"README.md: default of {name} is {cell!r}, not one `value`")
            self.assertEqual(yaml.safe_load(m.group(1)), default, f"README.md default of {name}")

    def test_every_meaning_is_filled_in(self):
        for name, (_, _, meaning) in self.table.items():
            self.assertGreater(len(meaning), 10, name)


if __name__ == "__main__":
    unittest.main()
