"""How many goals a sand-free drive could reach on each sand-car map, at best (run by hand).

    .venv/bin/python benchmarks/car_paths.py                 # empty, wall, strokes
    .venv/bin/python benchmarks/car_paths.py --maps my_map.png

For each map: the shortest path, through positions that are not on sand (and inside the
10-pixel margin the car is clamped to), from anywhere within 100 pixels of one goal to anywhere
within 100 pixels of the other, the distance at which the course counts a goal. The search
runs on a grid of 2-pixel cells with 16 neighbours (moves of (1, 0), (1, 1) and (2, 1), which
overestimate a straight line by under 3%). At the road's 6 pixels a frame that is a least
number of frames per goal, and so a most number of goals per 10,000 frames (turning at the
goals not counted). It tells whether a map leaves room for the `deepq car train` target
(60 goals per 10k frames with under 1% of frames on sand) before any brain is blamed.
"""

from __future__ import annotations

import argparse
import heapq
import math

import numpy as np

CELL = 2  # pixels per grid cell
ROAD_SPEED = 6.0  # pixels a frame off the sand
GOAL_RADIUS = 100.0  # a goal counts within this distance
GRID_SLACK = 1.03  # the 16-neighbour grid's worst overestimate of a straight line, rounded up


def free_cells(sand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid: which cells are road inside the car's margins, and each cell's pixel x and y."""
    width, height = sand.shape
    xs, ys = np.meshgrid(np.arange(0, width, CELL), np.arange(0, height, CELL), indexing="ij")
    free = (sand[::CELL, ::CELL] == 0) & (xs >= 10) & (xs <= width - 10) & (ys >= 10) & (ys <= height - 10)
    return free, xs, ys


def distance_field(sand: np.ndarray, goal: tuple[float, float], stop_at: np.ndarray | None = None) -> np.ndarray:
    """Pixels of the shortest sand-free path from each grid cell to the zone round ``goal`` (inf
    where there is none). With ``stop_at``, the search ends at the first such cell reached."""
    free, xs, ys = free_cells(sand)
    moves = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)
             if (dx, dy) != (0, 0) and math.gcd(abs(dx), abs(dy)) == 1]
    dist = np.full(free.shape, np.inf)
    in_zone = free & (np.hypot(xs - goal[0], ys - goal[1]) < GOAL_RADIUS)
    queue = [(0.0, int(i), int(j)) for i, j in zip(*np.nonzero(in_zone), strict=True)]
    for _, i, j in queue:
        dist[i, j] = 0.0
    heapq.heapify(queue)
    while queue:
        d, i, j = heapq.heappop(queue)
        if d > dist[i, j]:
            continue
        if stop_at is not None and stop_at[i, j]:
            break
        for dx, dy in moves:
            u, v = i + dx, j + dy
            if not (0 <= u < free.shape[0] and 0 <= v < free.shape[1] and free[u, v]):
                continue
            # a (2, 1) move crosses two cells on its way: both must be free
            step_x, step_y = int(np.sign(dx)), int(np.sign(dy))
            if (abs(dx) == 2 or abs(dy) == 2) and not (
                free[i + step_x, j + step_y] and free[i + dx - step_x, j + dy - step_y]
            ):
                continue
            nd = d + CELL * math.hypot(dx, dy)
            if nd < dist[u, v]:
                dist[u, v] = nd
                heapq.heappush(queue, (nd, u, v))
    return dist


def shortest_leg(sand: np.ndarray, start: tuple[float, float], end: tuple[float, float]) -> float:
    """Pixels of the shortest sand-free path from the zone round ``start`` to the zone round ``end``."""
    free, xs, ys = free_cells(sand)
    in_end = free & (np.hypot(xs - end[0], ys - end[1]) < GOAL_RADIUS)
    return float(distance_field(sand, start, stop_at=in_end)[in_end].min(initial=math.inf))


def main() -> None:
    import gymnasium as gym

    import deepq  # noqa: F401  (registers deepq/SandCar-v0)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=["empty", "wall", "strokes"], help="built-in names or PNG paths")
    args = parser.parse_args()
    print(f"{'map':>10} {'sand':>6} {'shortest leg px':>16} {'frames a goal, at least':>24} {'goals/10k, at most':>19}")
    for name in args.maps:
        env = gym.make("deepq/SandCar-v0", map=name)
        env.reset()
        sand = env.unwrapped.sand
        width, height = sand.shape
        leg = shortest_leg(sand, (20, height - 20), (width - 20, 20))
        frames = leg / GRID_SLACK / ROAD_SPEED
        goals = 10_000 / frames if frames > 0 else math.inf
        print(f"{name:>10} {sand.mean():>6.1%} {leg:>16.0f} {frames:>24.0f} {goals:>19.0f}")
        env.close()


if __name__ == "__main__":
    main()
