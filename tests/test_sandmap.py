"""The route brain's sand map and its plans (deepq.car.sandmap)."""

import heapq
import math

import numpy as np
import pytest

from deepq.car.sandmap import CELL, FINE, GOAL_ZONE, Route, SandMap, cheapest_ways, follow
from deepq.envs.sandcar import SandCarEnv, paint_square


def drive(env, sand_map, frames, seed):
    """Random steering with long straight runs; the map takes in every frame, as the brain's does."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    squares = []  # every square a sensor read, and whether it read sand
    for _ in range(frames):
        obs, _, _, _, info = env.step(int(rng.choice(3, p=[0.6, 0.2, 0.2])))
        sand_map.sense(env.x, env.y, env.angle, obs[:3], info["on_sand"])
        squares += [(int(sx), int(sy), value > 0) for (sx, sy), value in zip(env.sensor_points(), obs[:3])
                    if 10 <= sx <= env.width - 10 and 10 <= sy <= env.height - 10]
    return squares


@pytest.mark.parametrize("map_name", ["strokes", "wall"])
def test_the_map_is_never_wrong_about_road_and_keeps_all_sand_it_saw(map_name):
    env = SandCarEnv(map=map_name)
    sand_map = SandMap(env.width, env.height)
    squares = drive(env, sand_map, 3_000, seed=1)
    assert any(sandy for *_, sandy in squares) and sand_map.sand.any() and sand_map.road.any()
    truth = env.sand[: env.width // FINE * FINE, : env.height // FINE * FINE]
    sand_in_cell = truth.reshape(env.width // FINE, FINE, env.height // FINE, FINE).any(axis=(1, 3))
    assert not (sand_map.road & sand_in_cell).any()  # a cell marked road holds no sand
    assert not (sand_map.road & sand_map.sand).any()
    for x, y, sandy in squares:  # every sand pixel a sensor's square covered is in a cell marked sand
        if sandy:
            xs, ys = np.nonzero(env.sand[x - 10: x + 10, y - 10: y + 10])
            assert sand_map.sand[(xs + x - 10) // FINE, (ys + y - 10) // FINE].all()


def test_sand_painted_on_known_road_is_seen_again():
    sand_map = SandMap(200, 200)
    sand_map._square(100, 100, sandy=False)
    assert sand_map.road[18:22, 18:22].all() and sand_map.version == 0
    sand_map._square(100, 100, sandy=True)  # the same square now reads sand: it was painted
    assert sand_map.sand[18:22, 18:22].all() and not sand_map.road[18:22, 18:22].any()
    assert sand_map.version == 1
    sand_map._square(100, 100, sandy=True)  # nothing new
    assert sand_map.version == 1
    sand_map.sense(52.0, 52.0, 0.0, [0.0, 0.0, 0.0], on_sand=True)  # the car feels sand under it
    assert sand_map.sand[10, 10] and sand_map.version == 2


def dijkstra(cost, zone):
    best = np.full(cost.shape, np.inf)
    queue = [(0.0, i, j) for i, j in zip(*np.nonzero(zone), strict=True)]
    for _, i, j in queue:
        best[i, j] = 0.0
    while queue:
        d, i, j = heapq.heappop(queue)
        if d > best[i, j]:
            continue
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                u, v = i + di, j + dj
                if (di or dj) and 0 <= u < cost.shape[0] and 0 <= v < cost.shape[1]:
                    nd = d + cost[u, v] * (math.sqrt(2.0) if di and dj else 1.0)
                    if nd < best[u, v]:
                        best[u, v] = nd
                        heapq.heappush(queue, (nd, u, v))
    return best


def test_cheapest_ways_agree_with_dijkstra():
    rng = np.random.default_rng(0)
    for _ in range(5):
        cost = np.where(rng.random((23, 17)) < 0.3, 30.0, 1.0)
        zone = np.zeros(cost.shape, bool)
        zone[rng.integers(23), rng.integers(17)] = True
        np.testing.assert_allclose(cheapest_ways(cost, zone), dijkstra(cost, zone), rtol=1e-12)


def walk(route, blocked, start):
    """Waypoint to waypoint from ``start`` into the goal's zone; no waypoint may be blocked."""
    (x, y), way = start, [start]
    while math.hypot(x - route.goal[0], y - route.goal[1]) >= GOAL_ZONE:
        x, y = route.waypoint(x, y)
        way.append((x, y))
        assert len(way) < 100
        assert not blocked[int(x) // CELL, int(y) // CELL]
    return way


def test_route_goes_round_the_wall_through_its_gap():
    env = SandCarEnv(map="wall")
    sand_map = SandMap(env.width, env.height)
    sand_map.sand[:] = env.sand.reshape(env.width // FINE, FINE, env.height // FINE, FINE).any(axis=(1, 3))
    route = sand_map.route(20.0, 580.0)
    way = walk(route, sand_map.blocked(), (600.0, 100.0))  # right of the wall, low down; the goal is top left
    assert max(py for px, py in way if 370 <= px <= 430) > 420  # it crossed above the wall's top (y 420)
    # the way's length is the route's distance, to within the waypoints' cutting of corners
    length = sum(math.dist(a, b) for a, b in zip(way, way[1:]))
    assert route.distance(600.0, 100.0) == pytest.approx(length, rel=0.15)
    assert route.distance(600.0, 100.0) > math.dist((600, 100), (20, 580)) + 50  # longer than straight
    # an empty map plans a straight way
    straight = Route(np.zeros_like(sand_map.blocked()), (20.0, 580.0))
    assert straight.distance(600.0, 100.0) < math.dist((600, 100), (20, 580)) * 1.1


def test_follow_walks_downhill_and_stops_at_the_bottom():
    ways = np.array([[3.0, 2.0, 1.0, 0.0]])
    at_x, at_y = follow(ways, 2)
    assert at_y.tolist() == [[2, 3, 3, 3]] and at_x.tolist() == [[0, 0, 0, 0]]


def test_paint_then_plan_avoids_the_new_sand():
    """Sand painted across the straight way is planned round once the sensors have read it."""
    env = SandCarEnv(map="empty")
    for y in range(200, 600, 10):  # a band from y = 190 to the top, at x = 190-210
        paint_square(env.sand, 200, y)
    sand_map = SandMap(env.width, env.height)
    before = sand_map.route(20.0, 580.0).distance(390.0, 295.0)
    env.reset()
    env.angle = 150.0  # point the sensors at the band, 30 px ahead of x = 230
    env.x, env.y = 230.0, 300.0
    for y in range(180, 580, 5):
        env.y = float(y)
        readings = [env._signal(sx, sy) for sx, sy in env.sensor_points()]
        sand_map.sense(env.x, env.y, env.angle, readings, on_sand=False)
    assert sand_map.version > 0
    after = sand_map.route(20.0, 580.0)
    assert after.distance(390.0, 295.0) > before
    blocked = sand_map.blocked()
    assert blocked[20, 20:57].all()  # the band at x = 200, where the sensors read it
    walk(after, blocked, (390.0, 295.0))
