"""The sand as the car's own sensors have shown it, and the way round it (the ``route`` brain).

A brain that knows where its car is (``Odometer``) can also remember what its sensors read
there. Each of the three readings is the sand in the 20 x 20 square round a sensor point, 30
pixels ahead: 0 says the whole square is road, more says some of it is sand. ``SandMap`` keeps
that on a grid of 5-pixel cells:

- a reading of 0 marks the cells inside its square as road;
- a reading above 0 marks the cells its square touches as possible sand, unless they are known
  road; if they are all known road, the sand is new (painted since) and they become sand again;
- a frame on sand marks the car's own cell as sand.

``route(goal)`` plans on that map: 10-pixel cells that hold known sand, and their neighbours
(a margin for the car's 17-pixel turning circle), cost ``BLOCKED_COST`` times as much to cross
as road; everything not yet seen is road. The result gives, for every cell, the length of the
cheapest way to the goal and a waypoint ``LOOKAHEAD`` cells along it. The brain is shown the
angle to that waypoint and paid for progress along the way (``BRAINS["route"]``).

    sand_map = SandMap(800, 600)
    sand_map.sense(x, y, angle, observation[:3], on_sand)   # after every frame
    route = sand_map.route(goal_x, goal_y)                  # after the map or the goal changed
    route.distance(x, y), route.waypoint(x, y)
"""

from __future__ import annotations

import math

import numpy as np

from deepq.envs.sandcar import BRUSH, EDGE, sensor_points

FINE = 5  # pixels per cell of what the sensors have shown
CELL = 10  # pixels per cell of the plan
MARGIN = 1  # plan cells round known sand that count as blocked too
BLOCKED_COST = 30.0  # a blocked cell costs this many road cells to cross
GOAL_ZONE = 60.0  # plan to anywhere this close to the goal (a goal counts within 100 pixels)
LOOKAHEAD = 4  # the waypoint: this many cells along the way


class SandMap:
    """What the sensors have shown of the sand, on a grid of ``FINE``-pixel cells."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)
        shape = (self.width // FINE, self.height // FINE)
        self.road = np.zeros(shape, dtype=bool)  # inside a square that read 0
        self.sand = np.zeros(shape, dtype=bool)  # touched by a square that read more, not known road
        self.version = 0  # counts changes to what is blocked
        self._routes: dict[tuple[float, float], Route] = {}

    def sense(self, x: float, y: float, angle: float, readings: np.ndarray | list[float], on_sand: bool) -> None:
        """Take in one frame: the car's pose, its three sensor readings and whether it is on sand."""
        for (sx, sy), reading in zip(sensor_points(x, y, angle), readings, strict=True):
            if EDGE <= sx <= self.width - EDGE and EDGE <= sy <= self.height - EDGE:  # else it reads 1
                self._square(int(sx), int(sy), float(reading) > 0.0)
        cell = int(x) // FINE, int(y) // FINE  # inside the map: the car is held 10 px from each border
        if on_sand and not self.sand[cell]:
            self.road[cell], self.sand[cell] = False, True
            self.version += 1

    def _square(self, ix: int, iy: int, sandy: bool) -> None:
        """One reading of the square [ix - 10, ix + 10) x [iy - 10, iy + 10)."""
        if not sandy:  # the cells wholly inside the square are road
            inside = (slice(-(-(ix - BRUSH) // FINE), (ix + BRUSH) // FINE),
                      slice(-(-(iy - BRUSH) // FINE), (iy + BRUSH) // FINE))
            if not self.road[inside].all():
                self.road[inside] = True
                if self.sand[inside].any():
                    self.sand[inside] = False
                    self.version += 1
            return
        touched = (slice(max((ix - BRUSH) // FINE, 0), (ix + BRUSH - 1) // FINE + 1),
                   slice(max((iy - BRUSH) // FINE, 0), (iy + BRUSH - 1) // FINE + 1))
        road, sand = self.road[touched], self.sand[touched]
        if road.all():  # sand where the map says road: it was painted since
            road[:], sand[:] = False, True
            self.version += 1
        elif not (road | sand).all():
            sand |= ~road
            self.version += 1

    def blocked(self) -> np.ndarray:
        """(width // CELL, height // CELL) bools: plan cells with known sand, and a margin round them."""
        per = CELL // FINE
        nx, ny = self.width // CELL, self.height // CELL
        blocked = self.sand[: nx * per, : ny * per].reshape(nx, per, ny, per).any(axis=(1, 3))
        for _ in range(MARGIN):
            padded = np.pad(blocked, 1)
            blocked = blocked | padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
        return blocked

    def route(self, goal_x: float, goal_y: float) -> Route:
        """The way to the goal on the map as it is now (kept until the map changes)."""
        key = (float(goal_x), float(goal_y))
        route = self._routes.get(key)
        if route is None or route.version != self.version:
            route = Route(self.blocked(), key, self.version)
            self._routes[key] = route
        return route


class Route:
    """The cheapest way from every plan cell to the zone round a goal, over a map of blocked cells."""

    def __init__(self, blocked: np.ndarray, goal: tuple[float, float], version: int = 0) -> None:
        self.goal, self.version = goal, version
        nx, ny = blocked.shape
        centres_x, centres_y = np.meshgrid((np.arange(nx) + 0.5) * CELL, (np.arange(ny) + 0.5) * CELL, indexing="ij")
        zone = np.hypot(centres_x - goal[0], centres_y - goal[1]) < GOAL_ZONE
        zone[self._cell(goal[0], goal[1], nx, ny)] = True
        cost = np.where(blocked, BLOCKED_COST, 1.0)
        cells = cheapest_ways(cost, zone)
        self.pixels = cells * CELL
        ways_x, ways_y = follow(cells, LOOKAHEAD)
        self.ways_x, self.ways_y = (ways_x + 0.5) * CELL, (ways_y + 0.5) * CELL
        self.ways_x[zone], self.ways_y[zone] = goal  # in the zone, head for the goal itself

    @staticmethod
    def _cell(x: float, y: float, nx: int, ny: int) -> tuple[int, int]:
        return min(max(int(x) // CELL, 0), nx - 1), min(max(int(y) // CELL, 0), ny - 1)

    def distance(self, x: float, y: float) -> float:
        """Pixels of the cheapest way from (x, y) to the goal's zone (blocked cells counted at their cost)."""
        return float(self.pixels[self._cell(x, y, *self.pixels.shape)])

    def waypoint(self, x: float, y: float) -> tuple[float, float]:
        """Where to head from (x, y): ``LOOKAHEAD`` cells along the way, or the goal once near it."""
        cell = self._cell(x, y, *self.pixels.shape)
        return float(self.ways_x[cell]), float(self.ways_y[cell])


def cheapest_ways(cost: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """The least total cost from each cell to any ``zone`` cell, moving to any of the 8 neighbours;
    a move costs the entered cell's cost, times sqrt(2) on a diagonal. Relaxed until nothing changes
    (as many rounds as the longest way has cells)."""
    best = np.where(zone, 0.0, np.inf)
    diagonal = math.sqrt(2.0) * cost
    while True:
        padded = np.pad(best, 1, constant_values=np.inf)
        straight = np.minimum.reduce([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
        corner = np.minimum.reduce([padded[:-2, :-2], padded[2:, 2:], padded[:-2, 2:], padded[2:, :-2]])
        relaxed = np.minimum(best, np.minimum(straight + cost, corner + diagonal))
        if np.array_equal(relaxed, best):
            return best
        best = relaxed


def follow(ways: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """For each cell, the cell reached after ``steps`` moves to its lowest neighbour (or itself)."""
    nx, ny = ways.shape
    padded = np.pad(ways, 1, constant_values=np.inf)
    moves = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    lowest = np.stack([padded[1 + dx: 1 + dx + nx, 1 + dy: 1 + dy + ny] for dx, dy in moves]).argmin(axis=0)
    cells_x, cells_y = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    next_x = cells_x + np.array([dx for dx, _ in moves])[lowest]
    next_y = cells_y + np.array([dy for _, dy in moves])[lowest]
    at_x, at_y = cells_x, cells_y
    for _ in range(steps):
        at_x, at_y = next_x[at_x, at_y], next_y[at_x, at_y]
    return at_x, at_y
