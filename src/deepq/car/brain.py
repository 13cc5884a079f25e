"""The course's brain (``ai.py``), fixed for current PyTorch and built from deepq's parts.

    brain = Dqn(5, 3, 0.9)                 # the course's 5 -> 30 -> 3, softmax(Q * 100)
    action = brain.update(reward, signal)  # store, act, learn: once per frame
    brain.save("last_brain.pth")           # {"state_dict": ..., "optimizer": ...}

Differences from the course, on purpose: each transition is stored with its own reward (the
course stores the previous frame's, a one-step lag); the first state is zeros, not
uninitialised memory; sampling uses current PyTorch (no ``multinomial()`` without a count).

Two more brains are deepq's own. ``pose`` gets the same five numbers a frame, works out where
the car is from them with an ``Odometer`` and learns from both. ``route`` also remembers what
its sensors have shown of the sand (``SandMap``), plans the way round it, and is shown the
angle to a waypoint on that way (see ``BRAINS``).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepq.agent import DQNAgent
from deepq.car.odometer import Odometer
from deepq.car.sandmap import SandMap
from deepq.car.specs import BRAINS
from deepq.checkpoint import CheckpointError, atomic_save
from deepq.config import DQNConfig, set_field
from deepq.envs.sandcar import ROAD_SPEED, SAND_SPEED, angle_between, course_start, rotate
from deepq.replay import NStepCollector, PrioritizedReplay, ReplayBuffer
from deepq.schedules import epsilon_at

REPLAN_EVERY = 100  # frames: the route brain plans again at most this often when its map changes
MEMORY_SIZE = 100_000
BATCH_SIZE = 100
LEARNING_RATE = 1e-3


class Dqn:
    """Online deep Q-learning, one learn step per frame, as the course's car learns."""

    def __init__(self, input_size: int = 5, nb_action: int = 3, gamma: float | None = None,
                 brain: str = "course", seed: int | None = None, width: int = 800, height: int = 600,
                 **overrides: Any) -> None:
        """``gamma`` defaults to the brain's (0.9 for the course's). ``width`` and ``height`` are
        the map's: the ``pose`` brain's odometer needs them, and it starts from the course's start
        (``SandCarEnv.reset()`` with no options)."""
        if brain not in BRAINS:
            raise ValueError(f"unknown brain {brain!r}; use one of {', '.join(BRAINS)}")
        spec = BRAINS[brain]
        self.brain, self.spec = brain, spec
        self.odometer = Odometer(width, height) if spec.pose else None
        self.sand_map = SandMap(width, height) if spec.route else None
        if self.sand_map is not None:
            self.route = self.sand_map.route(*course_start(width, height)[2:])  # the first goal
            self.frames_on_route = 0
        values = dict(
            learning_rate=LEARNING_RATE, batch_size=BATCH_SIZE, buffer_size=MEMORY_SIZE,
            gamma=spec.gamma if gamma is None else gamma,
            hidden_sizes=spec.hidden_sizes, exploration="boltzmann", temperature=spec.temperature,
            target_update_interval=0, max_grad_norm=0.0, loss="huber", optimizer="adam",
        ) | spec.settings
        # any DQNConfig key can be changed (`deepq car train --set gamma=0.95`), checked as for `deepq train`
        self.config = DQNConfig()
        for key, value in {**values, **overrides}.items():
            set_field(self.config, key, value)
        self.config.validate()
        self.frame = 0
        state_size = input_size + (5 if spec.pose else 0) + (2 if spec.route else 0)  # Odometer.features(), _waypoint()
        self.agent = DQNAgent((state_size,), nb_action, self.config, seeds=[seed])
        self.memory: ReplayBuffer | PrioritizedReplay = ReplayBuffer(
            self.config.buffer_size, (state_size,), np.float32, self.config.gamma, seed=seed)
        if self.config.prioritized:
            self.memory = PrioritizedReplay(self.memory, self.config.priority_alpha, self.config.priority_beta,
                                            seed=None if seed is None else seed + 1)
        self.nstep = NStepCollector(self.config.n_step, self.config.gamma, 1)  # n_step=1: passes through
        self.rng = np.random.default_rng(seed)
        self.last_state = np.zeros(state_size, dtype=np.float32)
        self.last_action = 0
        self.reward_window: deque[float] = deque(maxlen=1000)
        self._no_termination = np.zeros(1, dtype=np.float32)

    def select_action(self, state: np.ndarray) -> int:
        """Sample from softmax(Q(state) * temperature), or epsilon-greedy if the brain says so."""
        epsilon = epsilon_at(self.config, self.frame, self.config.total_steps)
        return int(self.agent.act(state[None, None], epsilon, [self.rng])[0, 0])

    def update(self, reward: float, new_signal: np.ndarray | list[float]) -> int:
        """Store the last transition with ``reward``, pick the next action, learn once."""
        new_state = np.asarray(new_signal, dtype=np.float32)
        learn_reward = reward
        if self.odometer is not None:
            if self.frame > 0:  # the first call comes before the car has moved
                goal, before = self.odometer.goal_x, (self.odometer.x, self.odometer.y)
                self.odometer.update(self.last_action, reward, new_signal)  # full precision: exact to 1e-9
                if self.odometer.goal_x != goal:
                    learn_reward += self.spec.goal_bonus
                if self.sand_map is not None:
                    learn_reward += self._follow_route(before, new_signal)
            parts = [new_state, self.odometer.features().astype(np.float32)]
            if self.sand_map is not None:
                parts.append(self._waypoint())
            new_state = np.concatenate(parts)
        ready = self.nstep.push(self.last_state[None], np.array([self.last_action]),
                                np.array([learn_reward], dtype=np.float32), new_state[None],
                                self._no_termination, self._no_termination)
        if len(ready[1]):
            self.memory.add(*ready)
        action = self.select_action(new_state)
        self.frame += 1
        if len(self.memory) > self.config.batch_size:  # the course learns once the memory holds a batch
            self.agent.learn_round(self.memory, self.frame, self.config.total_steps)
        self.last_action, self.last_state = action, new_state
        self.reward_window.append(float(reward))
        return action

    def _follow_route(self, before: tuple[float, float], readings: np.ndarray | list[float]) -> float:
        """The route brain's frame: what it gained along its way (as reward), then its sand map
        takes in the readings, and it plans again for a new goal or a changed map."""
        odometer = self.odometer
        gained = self.route.distance(*before) - self.route.distance(odometer.x, odometer.y)
        self.sand_map.sense(odometer.x, odometer.y, odometer.angle, readings[:3], odometer.speed == SAND_SPEED)
        self.frames_on_route += 1
        goal = (odometer.goal_x, odometer.goal_y)
        if goal != self.route.goal or (
                self.sand_map.version != self.route.version and self.frames_on_route >= REPLAN_EVERY):
            self.route, self.frames_on_route = self.sand_map.route(*goal), 0
        return self.spec.route_reward * gained / ROAD_SPEED

    def _waypoint(self) -> np.ndarray:
        """The route brain's two inputs: the angle from the heading to the waypoint / 180, and its negative."""
        odometer = self.odometer
        way_x, way_y = self.route.waypoint(odometer.x, odometer.y)
        heading_x, heading_y = rotate(1.0, 0.0, odometer.angle)
        angle = angle_between(heading_x, heading_y, way_x - odometer.x, way_y - odometer.y) / 180.0
        return np.array([angle, -angle], dtype=np.float32)

    def score(self) -> float:
        """The course's score: sum of the last 1000 rewards / (count + 1)."""
        return sum(self.reward_window) / (len(self.reward_window) + 1.0)

    # --- the course's file layout: {"state_dict": fc1.weight ..., "optimizer": ...} ---
    def _course_keys(self) -> list[tuple[str, str]]:
        """(course key, deepq key) pairs: fc1..fcN are the Linear layers in order."""
        ours = [k for k in self.agent.q_net.member_state_dict(0) if k.endswith(".weight")]
        pairs = []
        for i, key in enumerate(ours, start=1):
            stem = key[: -len(".weight")]
            pairs += [(f"fc{i}.weight", f"{stem}.weight"), (f"fc{i}.bias", f"{stem}.bias")]
        return pairs

    def snapshot(self) -> dict:
        """A copy of the brain in the course's file layout, safe to write from another thread."""
        state = self.agent.q_net.member_state_dict(0)
        course_state = {course: state[ours].clone() for course, ours in self._course_keys()}
        return {"state_dict": course_state, "optimizer": self.agent.member_optimizer_state(0)}

    def save(self, path: str | Path = "last_brain.pth") -> Path:
        """Write the brain as the course does (loadable by the course's own code)."""
        path = Path(path)
        atomic_save(self.snapshot(), path)
        return path

    def load(self, path: str | Path = "last_brain.pth") -> None:
        """Load a brain saved by this class or by the course's ``ai.py`` (weights only)."""
        path = Path(path)
        if not path.exists():
            raise CheckpointError(f"no brain file {path}")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            course_state = data["state_dict"]
            state = {ours: course_state[course] for course, ours in self._course_keys()}
            self.agent.q_net.load_member_state_dict(0, state)
            self.agent.load_optimizer_states([data["optimizer"]])
        except (KeyError, TypeError, RuntimeError, ValueError, EOFError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(
                f"{path} is not a {self.brain} brain file ({first}); load one saved with the same brain"
            ) from None
        except Exception as error:  # pickle errors: refused code, truncation
            raise CheckpointError(f"{path} cannot be loaded safely ({type(error).__name__}); "
                                  "deepq loads weights only") from None
