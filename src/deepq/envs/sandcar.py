"""SandCar: the self-driving car of the course (a Kivy app), as a Gymnasium environment.

The rules follow ``specs/sandcar.md`` exactly, with Python floats and the ``math`` module as
Kivy's ``Vector`` uses them, so recorded trajectories replay to 1e-9. One frame:
observe -> choose action -> move -> reward -> goal check.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

ROTATIONS = (0.0, 20.0, -20.0)  # action -> degrees (+20 is counter-clockwise)
BRUSH = 10  # half-width of the 20 x 20 brush square
SENSOR_DISTANCE = 30.0
CAR_SIZE = (20, 10)
ROAD_SPEED, SAND_SPEED = 6.0, 1.0  # pixels a frame
EDGE = 10  # the car is held this far from each border
BUILTIN_MAPS = ("empty", "wall", "strokes")


def rotate(x: float, y: float, degrees: float) -> tuple[float, float]:
    """Kivy's ``Vector.rotate``: (x cos d - y sin d, y cos d + x sin d)."""
    radians = math.radians(degrees)
    return x * math.cos(radians) - y * math.sin(radians), y * math.cos(radians) + x * math.sin(radians)


def angle_between(ax: float, ay: float, bx: float, by: float) -> float:
    """Kivy's ``Vector(a).angle(b)`` in degrees: -(180/pi) * atan2(a x b, a . b)."""
    return -(180.0 / math.pi) * math.atan2(ax * by - ay * bx, ax * bx + ay * by)


def sensor_points(x: float, y: float, angle: float) -> list[tuple[float, float]]:
    """The front, left and right sensor points of a car at (x, y) heading ``angle`` degrees."""
    points = []
    for offset in (0.0, 30.0, -30.0):
        direction = angle if offset == 0.0 else (angle + offset) % 360
        dx, dy = rotate(SENSOR_DISTANCE, 0.0, direction)
        points.append((dx + x, dy + y))
    return points


def course_start(width: int, height: int) -> tuple[float, float, float, float]:
    """Where the course starts: the car's position (its bottom-left corner, the car centred) and the first goal."""
    return width / 2 - CAR_SIZE[0] / 2, height / 2 - CAR_SIZE[1] / 2, 20.0, height - 20.0


def paint_square(sand: np.ndarray, x: int, y: int, value: float = 1.0) -> None:
    """The course's brush: ``sand[x-10:x+10, y-10:y+10] = value``, clipped at 0."""
    sand[max(x - BRUSH, 0): max(x + BRUSH, 0), max(y - BRUSH, 0): max(y + BRUSH, 0)] = value


def builtin_map(name: str, width: int, height: int) -> np.ndarray:
    """``empty``; ``wall`` (sand where 380 <= x <= 420 and y <= 420); ``strokes`` (25 random
    brush strokes from a fixed seed, kept clear of the start and the two goals)."""
    sand = np.zeros((width, height))
    if name == "wall":
        sand[380:421, :421] = 1.0
    elif name == "strokes":
        rng = np.random.default_rng(2017)
        keep_clear = [(width / 2, height / 2), (20, height - 20), (width - 20, 20)]
        strokes = 0
        while strokes < 25:
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            heading = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(40, 140)
            points = [(x + t * math.cos(heading), y + t * math.sin(heading))
                      for t in np.arange(0, length, 2.0)]
            if any(math.hypot(px - cx, py - cy) < 110 for px, py in points for cx, cy in keep_clear):
                continue
            for px, py in points:
                paint_square(sand, int(px), int(py))
            strokes += 1
    elif name != "empty":
        raise ValueError(f"unknown map {name!r}; use one of {', '.join(BUILTIN_MAPS)} or a PNG path")
    return sand


def load_map_png(path: str | Path, width: int, height: int) -> np.ndarray:
    """Sand from a PNG: every non-black pixel is sand. The image is (height, width) with y down."""
    import pygame

    path = Path(path)
    if not path.exists():
        raise ValueError(f"no map file {path}")
    try:
        surface = pygame.image.load(str(path))
    except pygame.error as error:
        raise ValueError(f"cannot read map {path}: {error}") from None
    if surface.get_size() != (width, height):
        surface = pygame.transform.scale(surface, (width, height))
    pixels = pygame.surfarray.array3d(surface)  # (width, height, 3), y down
    return (pixels.max(axis=2) > 0)[:, ::-1].astype(np.float64)


def save_map_png(sand: np.ndarray, path: str | Path) -> None:
    """Write the sand as a PNG (yellow sand on black), readable by ``load_map_png``."""
    import pygame

    rgb = np.zeros((*sand.shape, 3), dtype=np.uint8)
    rgb[sand > 0] = (255, 255, 0)
    pygame.image.save(pygame.surfarray.make_surface(rgb[:, ::-1]), str(path))


class SandCarEnv(gym.Env[np.ndarray, int]):
    """The course's car. Observation ``[s1, s2, s3, o, -o]``; actions rotate by 0, +20, -20.

    ``sand`` is a writable (width, height) array indexed ``[x, y]`` with y up; changing it
    changes the world at once. ``reset()`` keeps the sand. The task never terminates.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(
        self, width: int = 800, height: int = 600, map: str | Path | None = None,  # noqa: A002
        render_mode: str | None = None,
    ) -> None:
        if width < 60 or height < 60:
            raise ValueError("the map must be at least 60 x 60 pixels")
        self.width, self.height = int(width), int(height)
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float64)
        self.action_space = gym.spaces.Discrete(3)
        if map is None or str(map) in BUILTIN_MAPS:
            self.sand = builtin_map(str(map or "empty"), self.width, self.height)
        else:
            self.sand = load_map_png(map, self.width, self.height)
        self._start()

    # --- the world ---
    def _start(self) -> None:
        self.x, self.y, self.goal_x, self.goal_y = course_start(self.width, self.height)
        self.angle = 0.0
        self.vx, self.vy = ROAD_SPEED, 0.0
        self.signals = [0.0, 0.0, 0.0]
        self.last_distance = 0.0
        self.goal_reached = False
        self.on_sand = False
        self.distance = 0.0

    def clear(self) -> None:
        """Remove all sand."""
        self.sand[:] = 0.0

    def paint(self, x: int, y: int, value: float = 1.0) -> None:
        """The course's 20 x 20 brush square centred on (x, y), y up."""
        paint_square(self.sand, int(x), int(y), value)

    def sensor_points(self) -> list[tuple[float, float]]:
        """Front, left and right sensor positions."""
        return sensor_points(self.x, self.y, self.angle)

    def _signal(self, sx: float, sy: float) -> float:
        if sx < 10 or sx > self.width - 10 or sy < 10 or sy > self.height - 10:
            return 1.0
        ix, iy = int(sx), int(sy)
        return int(np.sum(self.sand[ix - 10: ix + 10, iy - 10: iy + 10])) / 400.0

    def _observation(self) -> np.ndarray:
        orientation = angle_between(self.vx, self.vy, self.goal_x - self.x, self.goal_y - self.y) / 180.0
        return np.array([*self.signals, orientation, -orientation], dtype=np.float64)

    def _info(self) -> dict[str, Any]:
        return {"position": (self.x, self.y), "angle": self.angle, "goal": (self.goal_x, self.goal_y),
                "goal_reached": self.goal_reached, "on_sand": self.on_sand, "distance": self.distance}

    # --- Gymnasium API ---
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Put the car where the course does. The sand stays."""
        super().reset(seed=seed)
        self._start()
        return self._observation(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move, then reward, then the goal check, as the course's ``update`` does."""
        rotation = ROTATIONS[int(action)]
        # move: position first, then angle, then the sensors at the new pose
        self.x, self.y = self.vx + self.x, self.vy + self.y
        self.angle = self.angle + rotation
        self.signals = [self._signal(sx, sy) for sx, sy in self.sensor_points()]
        distance = math.sqrt((self.x - self.goal_x) ** 2 + (self.y - self.goal_y) ** 2)
        # reward and speed
        self.on_sand = bool(self.sand[int(self.x), int(self.y)] > 0)
        if self.on_sand:
            self.vx, self.vy = rotate(SAND_SPEED, 0.0, self.angle)
            reward = -1.0
        else:
            self.vx, self.vy = rotate(ROAD_SPEED, 0.0, self.angle)
            reward = 0.1 if distance < self.last_distance else -0.2
        # edges override the reward
        if self.x < EDGE:
            self.x, reward = float(EDGE), -1.0
        if self.x > self.width - EDGE:
            self.x, reward = float(self.width - EDGE), -1.0
        if self.y < EDGE:
            self.y, reward = float(EDGE), -1.0
        if self.y > self.height - EDGE:
            self.y, reward = float(self.height - EDGE), -1.0
        # goal: it alternates between the two corners
        self.goal_reached = distance < 100
        if self.goal_reached:
            self.goal_x, self.goal_y = self.width - self.goal_x, self.height - self.goal_y
        self.last_distance = distance
        self.distance = distance
        return self._observation(), reward, False, False, self._info()

    def render(self) -> np.ndarray | None:
        """An (height, width, 3) picture: black road, yellow sand, the car, its sensors, goals."""
        if self.render_mode != "rgb_array":
            return None
        from deepq.car.drawing import draw_world

        return draw_world(self)
