"""Pulumi.yaml's typechecker (mypy) runs in the real language host before the program: a type
error stops `pulumi preview` before any resource is declared."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.sandbox import Project, copy_project
from tests.e2e.stacks import sandbox_config


def test_a_type_error_in_the_program_stops_preview(e2e_project: Project, tmp_path: Path) -> None:
    broken = Project(e2e_project.sandbox, copy_project(tmp_path / "project"))
    module = broken.path / "components" / "settings.py"
    module.write_text(module.read_text() + '\n\nTYPE_ERROR: int = "not an int"\n')
    stack = broken.new_stack("typecheck", sandbox_config("dev", "e2e-typecheck", "http://127.0.0.1:9"))
    try:
        result = broken.pulumi("preview", stack=stack, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "mypy failed" in output
        assert (
            'Incompatible types in assignment (expression has type "str", variable has type "int")' in output
        )
        assert broken.sandbox.get("namespace", "e2e-typecheck") is None
    finally:
        broken.remove_stacks()
