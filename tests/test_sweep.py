"""deepq sweep on a real local Ray: a 2x2 grid on CartPole, then a two-node cluster on this
machine (ray.cluster_utils.Cluster) that loses a node in the middle of the sweep."""

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from deepq.cli import main
from deepq.cluster import require_ray
from deepq.errors import UserError
from deepq.sweep import ATTEMPTS_FILE, SweepSpec, parse_grid, sweep

ray = pytest.importorskip("ray")

FIXED = {"eval_interval": "2000", "eval_episodes": "5", "checkpoint_interval": "1000"}


def grid_spec(steps: int) -> SweepSpec:
    return SweepSpec("CartPole-v1", [0, 1], {"learning_rate": ["1e-3", "3e-3"]}, preset="cartpole",
                     overrides=FIXED, steps=steps)


def test_grid_parsing_and_labels():
    grid = parse_grid(["learning_rate=1e-3,3e-4", "hidden_sizes=64:64,128:128"])
    assert grid == {"learning_rate": ["1e-3", "3e-4"], "hidden_sizes": ["64,64", "128,128"]}
    spec = SweepSpec("CartPole-v1", [0, 1, 2], grid)
    assert len(spec.configurations()) == 4 and len(spec.trials(Path("/tmp/s"))) == 12
    assert SweepSpec.label({"learning_rate": "1e-3", "hidden_sizes": "64,64"}) == "learning_rate=1e-3__hidden_sizes=64:64"
    with pytest.raises(UserError, match="KEY=V1,V2"):
        parse_grid(["learning_rate"])


def test_a_search_space_takes_choices_and_ranges():
    from ray import tune

    grid = parse_grid(["learning_rate=1e-4..1e-2", "batch_size=32..128", "tau=-1.0..1.0", "n_step=1,3"])
    space = SweepSpec("CartPole-v1", [0], grid, search="optuna", num_trials=4).search_space(tune)
    assert (space["learning_rate"].lower, space["learning_rate"].upper) == (1e-4, 1e-2)
    assert space["learning_rate"].get_sampler().__class__.__name__ == "_LogUniform"  # a positive float range
    assert (space["batch_size"].lower, space["batch_size"].upper) == (32, 129)  # both ends included
    assert space["tau"].get_sampler().__class__.__name__ == "_Uniform"
    assert space["n_step"].categories == ["1", "3"]
    for bad in ("learning_rate=1e-2..1e-4", "learning_rate=1e-4..x", "learning_rate=1e-4..1e-3,1e-2"):
        with pytest.raises(UserError, match="LOW..HIGH"):
            parse_grid([bad])


def test_bad_input_gets_one_line_before_ray_starts(tmp_path, capsys, monkeypatch):
    assert main(["sweep", "CartPole-v1", "--grid", "lerning_rate=1e-3,3e-4", "--storage", str(tmp_path / "a")]) == 2
    assert "learning_rate" in capsys.readouterr().err  # the closest key is named
    assert not ray.is_initialized() and not (tmp_path / "a").exists()
    assert main(["sweep", "CartPole-v1", "--grid", "batch_size=0,64", "--storage", str(tmp_path / "b")]) == 2
    assert "batch_size must be >= 1" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(tmp_path / "nothing")]) == 2
    assert "holds no deepq sweep" in capsys.readouterr().err
    assert main(["sweep", "CartPole-v1", "--grid", "learning_rate=1e-3", "--address", "127.0.0.1:1",
                 "--storage", str(tmp_path / "c")]) == 2
    assert "no Ray cluster at --address 127.0.0.1:1" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # nothing saved: the same command can be given again
    (tmp_path / "a-file").write_text("not a folder")
    assert main(["sweep", "CartPole-v1", "--grid", "learning_rate=1e-3", "--storage",
                 str(tmp_path / "a-file" / "sweep")]) == 2
    assert "cannot write the sweep's directory" in capsys.readouterr().err
    assert not ray.is_initialized()  # the local Ray it had started is stopped
    for args, message in ((["--grid", "learning_rate=1e-4..1e-2"], "only a search takes"),
                          (["--grid", "learning_rate=1e-3,3e-3", "--trials", "3"], "add --search optuna"),
                          (["--grid", "learning_rate=1e-4..1e-2", "--search", "optuna"], "needs --trials N"),
                          (["--grid", "batch_size=0..64", "--search", "optuna", "--trials", "2"],
                           "batch_size must be >= 1")):
        assert main(["sweep", "CartPole-v1", *args, "--storage", str(tmp_path / "d")]) == 2
        assert message in capsys.readouterr().err
        assert not ray.is_initialized() and not (tmp_path / "d").exists()
    monkeypatch.setitem(sys.modules, "optuna", None)  # Optuna not installed
    with pytest.raises(UserError, match=r"--search optuna needs Optuna: pip install 'deepq\[ray\]'"):
        sweep(SweepSpec("CartPole-v1", [0], {"learning_rate": ["1e-4..1e-2"]}, search="optuna", num_trials=2),
              tmp_path / "e")
    assert not ray.is_initialized() and not (tmp_path / "e").exists()
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed
    with pytest.raises(UserError, match=r"pip install 'deepq\[ray\]'"):
        require_ray("deepq sweep", tune=True)


def test_a_local_sweep_runs_every_trial_into_its_own_run_directory(tmp_path):
    text, lost = sweep(grid_spec(4_000), tmp_path, max_failures=1, reps=200)
    assert lost == 0 and "4 of 4 finished, 0 lost; restarts: 0" in text
    for lr in ("1e-3", "3e-3"):
        assert f"| learning_rate={lr} | 2 |" in text  # deepq compare's row for the configuration
        for seed in (0, 1):
            run = tmp_path / "runs" / f"learning_rate={lr}" / f"seed-{seed}"
            saved = json.loads((run / "config.json").read_text())
            assert saved["seed"] == seed and saved["config"]["learning_rate"] == float(lr)
            assert json.loads((run / "summary.json").read_text())["steps"] == 4_000
            assert list(run.glob("events.out.tfevents.*")) and (run / "model.pt").exists()
    assert (tmp_path / "sweep.png").exists()
    assert not ray.is_initialized()  # the local Ray it started is stopped


def test_a_sweep_survives_a_lost_node_and_resumes_trials_from_their_checkpoints(tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=2)
    ray.init(address=cluster.address, log_to_driver=False)
    removed = threading.Event()

    def remove_the_worker_once_trials_have_checkpoints():
        deadline = time.monotonic() + 900  # Ray and Tune start slowly on a busy 2-core machine
        while time.monotonic() < deadline:
            checkpoints = list((tmp_path / "runs").glob("*/seed-*/checkpoint.pt"))
            if len(checkpoints) >= 3:  # the three trials running on the two nodes have saved
                cluster.remove_node(worker)
                removed.set()
                return
            time.sleep(0.2)

    killer = threading.Thread(target=remove_the_worker_once_trials_have_checkpoints, daemon=True)
    killer.start()
    try:
        text, lost = sweep(grid_spec(12_000), tmp_path, max_failures=3, reps=200)
        print(text)  # the report, for `pytest -s`
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert removed.is_set(), "the worker node was never removed"
    assert lost == 0 and "4 of 4 finished, 0 lost" in text
    attempts = {run: json.loads((run / ATTEMPTS_FILE).read_text())
                for run in (tmp_path / "runs").glob("*/seed-*")}
    assert len(attempts) == 4
    restarted = {run: steps for run, steps in attempts.items() if len(steps) > 1}
    assert restarted, "no trial was on the lost node"
    for run, steps in restarted.items():
        # each restart continued from a checkpoint: the step counter never went back to 0 or below
        assert steps[0] == 0 and all(later > 0 and later >= earlier for earlier, later in zip(steps, steps[1:])), steps
        summary = json.loads((run / "summary.json").read_text())
        assert summary["steps"] == 12_000 and not summary["interrupted"]
        logged = [int(line.split(",")[0]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
        assert logged == sorted(logged)  # one run's history, not two mixed


def test_an_optuna_search_trains_each_configuration_on_every_seed(tmp_path):
    spec = SweepSpec("CartPole-v1", [0, 1], parse_grid(["learning_rate=3e-4..3e-3", "batch_size=32,64"]),
                     preset="cartpole", overrides=FIXED, steps=3_000, search="optuna", num_trials=3)
    text, lost = sweep(spec, tmp_path, max_failures=1, reps=200)
    assert lost == 0 and "3 of 3 finished, 0 lost; restarts: 0" in text
    trials = sorted((tmp_path / "runs").glob("trial-*"))
    assert len(trials) == 3
    picked, scores = set(), {}
    for trial in trials:
        members = sorted(trial.glob("seed-*"))
        assert [m.name for m in members] == ["seed-0", "seed-1"]  # one trial, every seed
        configs = [json.loads((m / "config.json").read_text())["config"] for m in members]
        lr, batch = configs[0]["learning_rate"], configs[0]["batch_size"]
        assert 3e-4 <= lr <= 3e-3 and batch in (32, 64) and configs[1]["learning_rate"] == lr
        assert f"learning_rate={lr:.3g}__batch_size={batch}" in trial.name
        finals = [json.loads((m / "summary.json").read_text())["final_eval_mean"] for m in members]
        scores[trial.name] = sum(finals) / 2
        picked.add((lr, batch))
    assert len(picked) == 3  # Optuna tried three configurations
    ranked = [line.split(". ", 1)[1].split(":")[0] for line in text.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert ranked == sorted(scores, key=scores.get, reverse=True)  # best first, by the mean final return
    assert (tmp_path / "sweep.png").exists() and SweepSpec.load(tmp_path).num_trials == 3
    assert not ray.is_initialized()


def test_a_stopped_sweep_says_so_and_resume_continues_its_trials_from_their_checkpoints(tmp_path):
    import os
    import signal
    import subprocess

    storage = tmp_path / "sweep"
    command = [sys.executable, "-m", "deepq.cli", "sweep", "CartPole-v1", "--seeds", "0-1", "--preset", "cartpole",
               "--grid", "learning_rate=3e-4..3e-3", "--search", "optuna", "--trials", "2", "--steps", "40000",
               "--set", *[f"{k}={v}" for k, v in FIXED.items()], "--storage", str(storage)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 900  # Ray starts its workers niced: slow beside other work
    while len(list(storage.glob("runs/trial-*/seed-0/checkpoint.pt"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # a few checkpoints on, so that Tune holds one for each trial
    first.send_signal(signal.SIGINT)  # Ctrl-C
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 1, out
    assert f"did not finish (the sweep was stopped): continue it with `deepq sweep --resume {storage}`" in out
    again = subprocess.run([sys.executable, "-m", "deepq.cli", "sweep", "--resume", str(storage)],
                           capture_output=True, text=True, timeout=1200, env=os.environ)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 of 2 finished, 0 lost" in again.stdout
    for trial in storage.glob("runs/trial-*"):
        attempts = json.loads((trial / ATTEMPTS_FILE).read_text())
        assert attempts[0] == 0 and attempts[-1] > 0, attempts  # the resumed attempt went on from a checkpoint
        for seed in (0, 1):
            summary = json.loads((trial / f"seed-{seed}" / "summary.json").read_text())
            assert summary["steps"] == 40_000 and not summary["interrupted"]
