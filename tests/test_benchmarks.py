import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_no_benchmark_script_hides_an_installed_module():
    # A script's own folder comes first on sys.path: benchmarks/minatar.py once made
    # `import minatar` find the script instead of the package in every benchmark run.
    scripts = sorted(p.stem for p in BENCHMARKS.glob("*.py"))
    assert "minatar_games" in scripts
    assert [name for name in scripts if importlib.util.find_spec(name) is not None] == []
