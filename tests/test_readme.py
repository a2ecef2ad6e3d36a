"""The README's configuration table, .env.example and coe/settings.py name the same variables.

The table is the section "## Configuration" of README.md: the first cell of each row names one or
more variables in backticks. .env.example lists each variable as `NAME=value`, or commented out as
`# NAME=value` when it is best left unset (DATABASE_URL, REDIS_URL, ENV_FILE). The settings read
them with coe/env.py's env_* helpers or os.environ.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"`([A-Z][A-Z0-9_]*)`")
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
READERS = {"env_str", "env_int", "env_bool", "env_list", "env_url", "env_database"}


def readme_table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    names = set()
    for row in rows[2:]:  # after the header and its |---| line
        first_cell = row.split("|")[1]
        found = NAME.findall(first_cell)
        assert found, f"a configuration row names no variable: {row!r}"
        names.update(found)
    return names


def env_example() -> set[str]:
    return set(ENV_LINE.findall((ROOT / ".env.example").read_text()))


def settings_reads() -> set[str]:
    """Every variable coe/settings.py reads: env_*("NAME", ...), os.environ.get("NAME"), os.environ["NAME"],
    os.getenv("NAME")."""
    tree = ast.parse((ROOT / "coe" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in READERS or func in {"os.environ.get", "os.getenv", "environ.get"}:
                names.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def test_the_parsers_find_the_variables():
    # Guards the checks below against passing because a parser found nothing.
    for names in (readme_table(), env_example(), settings_reads()):
        assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= names


def test_readme_table_and_env_example_list_the_same_variables():
    readme, example = readme_table(), env_example()
    assert not readme - example, f"in README.md's configuration table, not in .env.example: {sorted(readme - example)}"
    assert not example - readme, f"in .env.example, not in README.md's configuration table: {sorted(example - readme)}"


def test_every_variable_the_settings_read_is_documented():
    missing = settings_reads() - (readme_table() | env_example())
    assert not missing, f"coe/settings.py reads these, which README.md and .env.example do not list: {sorted(missing)}"


def test_every_documented_variable_is_read():
    unread = (readme_table() | env_example()) - settings_reads()
    assert not unread, f"documented but not read by coe/settings.py: {sorted(unread)}"


def test_readme_stays_the_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 160, f"README.md has {len(lines)} lines; design notes go to docs/, results to bench/README.md"
