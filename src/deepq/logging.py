"""Where a run reports: TensorBoard event files, ``metrics.csv``, and a live progress bar."""

from __future__ import annotations

import csv
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

_state = random.getstate()  # rich draws from Python's global generator when it is first imported:
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

random.setstate(_state)  # the caller's generator is left where it was
del _state

METRICS_FIELDS = ["global_step", "episode", "return", "length", "epsilon", "wall_seconds"]
EVAL_FIELDS = ["global_step", "wall_seconds", "mean", "std", "episodes"]


def _keep_rows_up_to(path: Path, step: int) -> None:
    """Rewrite a CSV log without the rows past ``step`` (and any half-written last line)."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    kept = rows[:1] + [r for r in rows[1:] if len(r) == len(rows[0]) and r[0].isdigit() and int(r[0]) <= step]
    if len(kept) == len(rows):
        return
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as handle:
        csv.writer(handle).writerows(kept)
    os.replace(tmp, path)


class RunLogger:
    """Writes one run's logs. Rows are flushed as they come, so a crash loses nothing logged."""

    def __init__(
        self, run_dir: Path, hparams: dict[str, Any], start_step: int = 0, display: Any = None,
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import, only when a run starts

        self.run_dir = run_dir
        # On resume, anything logged after the checkpoint (by a run that was killed) is dropped:
        # TensorBoard purges those events and the CSV files keep rows up to the checkpoint.
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=start_step + 1 if start_step else None)
        if start_step:
            for name in ("metrics.csv", "evaluations.csv"):
                _keep_rows_up_to(run_dir / name, start_step)
        if start_step == 0:
            rows = "\n".join(f"|{k}|{json.dumps(v)}|" for k, v in hparams.items())
            self.writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")
        self._metrics_file, self._metrics = self._open_csv(run_dir / "metrics.csv", METRICS_FIELDS)
        self._evals_file, self._evals = self._open_csv(run_dir / "evaluations.csv", EVAL_FIELDS)
        # Where this run's messages go (None: the files only; many members share one display).
        self.display = display

    @staticmethod
    def _open_csv(path: Path, fields: list[str]) -> tuple[Any, Any]:
        new = not path.exists() or path.stat().st_size == 0
        handle = path.open("a", newline="")
        writer = csv.writer(handle)
        if new:
            writer.writerow(fields)
            handle.flush()
        return handle, writer

    def episode(self, step: int, episode: int, ret: float, length: int, epsilon: float, wall: float) -> None:
        """One finished training episode."""
        self._metrics.writerow([step, episode, f"{ret:.6g}", length, f"{epsilon:.6g}", f"{wall:.3f}"])
        self._metrics_file.flush()
        self.writer.add_scalar("charts/episodic_return", ret, step)
        self.writer.add_scalar("charts/episodic_length", length, step)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Grouped scalars such as ``losses/td_loss`` or ``charts/SPS``."""
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def evaluation(self, step: int, wall: float, mean: float, std: float, episodes: int) -> None:
        """One greedy evaluation."""
        self._evals.writerow([step, f"{wall:.3f}", f"{mean:.6g}", f"{std:.6g}", episodes])
        self._evals_file.flush()
        self.writer.add_scalar("eval/mean_return", mean, step)
        self.writer.add_scalar("eval/std_return", std, step)
        self.message(f"step {step}: greedy mean {mean:.1f} +/- {std:.1f} over {episodes} episodes")

    def message(self, text: str) -> None:
        """A line above the progress bar."""
        if self.display is not None:
            self.display.message(text)

    def flush(self) -> None:
        """Push everything to disk (before a checkpoint)."""
        self.writer.flush()
        self._metrics_file.flush()
        self._evals_file.flush()

    def close(self) -> None:
        """Close the files."""
        self.writer.close()
        self._metrics_file.close()
        self._evals_file.close()


class ProgressDisplay:
    """The live progress bar on a terminal; elsewhere a plain line every 10% of the run."""

    def __init__(self, total_steps: int, progress: bool | None = None, start_step: int = 0,
                 label: str = "train") -> None:
        self.interactive = sys.stderr.isatty() if progress is None else progress
        self.total_steps = total_steps
        self._next_print = start_step
        self.progress: Progress | None = None
        if self.interactive:
            self.progress = Progress(
                TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                TextColumn("ep {task.fields[episodes]}"), TextColumn("avg100 {task.fields[avg]}"),
                TextColumn("eps {task.fields[eps]}"), TextColumn("{task.fields[sps]} sps"),
                TimeElapsedColumn(), transient=False,
            )
            self.task = self.progress.add_task(
                "train", total=total_steps, completed=start_step, episodes=0, avg="-", eps="-", sps="-"
            )
            self.progress.start()

    def status(self, step: int, episodes: int, avg: float | None, epsilon: float, sps: float) -> None:
        """Step, episodes, average return of the last 100 episodes, epsilon, steps/s."""
        avg_text = "-" if avg is None else f"{avg:.1f}"
        if self.progress is not None:
            self.progress.update(
                self.task, completed=step, episodes=episodes, avg=avg_text, eps=f"{epsilon:.3f}",
                sps=f"{sps:.0f}",
            )
        elif step >= self._next_print:
            self._next_print = step + max(1, self.total_steps // 10)
            print(f"step {step}/{self.total_steps}  episodes {episodes}  avg100 {avg_text}  "
                  f"eps {epsilon:.3f}  {sps:.0f} steps/s", flush=True)

    def message(self, text: str) -> None:
        """A line above the bar."""
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        """Stop the bar."""
        if self.progress is not None:
            self.progress.stop()
