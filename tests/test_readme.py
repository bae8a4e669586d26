"""The README's quick start: two commands, and .ci/run runs exactly the second."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_quick_start_is_two_commands_in_a_virtual_environment():
    install_and_render, install_and_test = quick_start()
    for command in (install_and_render, install_and_test):
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install ")
    assert install_and_render.endswith("xlform render examples/")
    assert install_and_test.endswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == quick_start()[1]
