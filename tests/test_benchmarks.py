import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_no_benchmark_script_hides_an_installed_module():
    # A script's own folder comes first on sys.path: benchmarks/minatar.py once made
    # `import minatar` find the script instead of the package in every benchmark run.
    scripts = sorted(p.stem for p in BENCHMARKS.glob("*.py"))
    assert "minatar_games" in scripts
    assert [name for name in scripts if importlib.util.find_spec(name) is not None] == []


def finished_run(path: Path, seed: int, means: list[float], minutes: float) -> None:
    """A run directory as deepq train leaves it: what the MinAtar report reads."""
    path.mkdir(parents=True)
    rows = "".join(f"{50_000 * (i + 1)},{i},{m},0.0,20\n" for i, m in enumerate(means))
    (path / "evaluations.csv").write_text("global_step,wall_seconds,mean,std,episodes\n" + rows)
    summary = {"seed": seed, "steps": 50_000 * len(means), "final_eval_mean": means[-1], "wall_seconds": 60 * minutes}
    (path / "summary.json").write_text(json.dumps(summary))


def test_minatar_report_joins_seeds_from_separate_commands(tmp_path):
    finished_run(tmp_path / "s0/Breakout/dqn/seed-0", 0, [1.0, 2.0, 9.0, 3.0], 40)
    finished_run(tmp_path / "s1/Breakout/dqn/seed-1", 1, [2.0, 4.0, 6.0, 8.0], 30)
    finished_run(tmp_path / "s1/Freeway/pqn/seed-1", 1, [5.0, 5.0, 5.0, 5.0], 10)  # another algorithm: left out
    result = subprocess.run([sys.executable, str(BENCHMARKS / "minatar_games.py"), "--algos", "dqn", "--report",
                             "--out", f"{tmp_path}/*"], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert "| Breakout | dqn | 0 | 1.0 / 2.0 / 9.0 / 3.0 | 9.0 (150k) | 40 |" in lines
    assert "| Breakout | dqn | 1 | 2.0 / 4.0 / 6.0 / 8.0 | 8.0 (200k) | 30 |" in lines
    group = [line for line in lines if line.startswith("| Breakout | dqn | 2 |")]
    assert len(group) == 1 and "3.0 .. 8.0 | 35.0 |" in group[0]  # two seeds: their mean is the IQM
    assert "5.5 [" in group[0]
    assert not any("Freeway" in line for line in lines)


def test_minatar_report_without_runs_says_so(tmp_path):
    result = subprocess.run([sys.executable, str(BENCHMARKS / "minatar_games.py"), "--report", "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "no finished runs under" in result.stderr
    assert "Traceback" not in result.stderr
