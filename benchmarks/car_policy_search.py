"""What a brain that sees what the course's brain sees can reach on each car map (run by hand).

    .venv/bin/python benchmarks/car_policy_search.py                 # empty, strokes, wall
    .venv/bin/python benchmarks/car_policy_search.py --maps strokes --restarts 4 --generations 300
    .venv/bin/python benchmarks/car_policy_search.py --maps strokes wall --position --hidden 16

The course's brain picks its action from five numbers: three sand sensors, the orientation to
the goal and its negative. `benchmarks/car_paths.py` shows each map has a short sand-free path;
this script asks whether a policy that sees only those five numbers can drive one. It searches
policies directly, without learning from reward: each is a 5-H-3 tanh network whose largest
output is the action (``--memory``: 10-H-3, fed this frame's inputs and the last frame's;
``--position``: five more inputs, the car's position, heading and goal side, which the brain
can work out itself from its actions, rewards and observations with ``deepq.car.Odometer``), and
the cross-entropy method moves a Gaussian over its weights towards the best of each population.
A candidate's fitness is its goals per 10,000 frames (frames 2,000-6,000 from the course's
start) minus ``lam`` per percentage point of those frames on sand,
plus ten times its mean reward (which tells circling from driving before any goal is reached);
``lam`` grows from 1 to ``--penalty`` over the generations, so the search first finds
policies that reach goals, then trades goals for less sand. Every candidate evaluated is kept
on a frontier: the most goals seen with at most 1%, 2%, 5% and any share of frames on sand.
Each frontier policy is then run again for 20,000 frames and counted as `deepq car train`
counts, over the last 10,000 frames; the table prints those figures. The search is local and
finds lower bounds on what such a policy can reach, not upper bounds.

The cars are simulated as a batch (one numpy array per quantity, one car per candidate), so a
generation costs one pass of array operations per frame instead of one ``SandCarEnv`` step per
candidate. It follows the same rules, and the script checks that first: four policies are
driven through both for 3,000 frames and every observation and reward must agree to 1e-9.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from deepq.car.odometer import pose_features
from deepq.envs.sandcar import (
    BRUSH,
    EDGE,
    ROAD_SPEED,
    ROTATIONS,
    SAND_SPEED,
    SENSOR_DISTANCE,
    SandCarEnv,
    builtin_map,
    course_start,
)

SEARCH_FRAMES, SEARCH_WINDOW = 6_000, 4_000  # a candidate is scored over the last 4,000 of 6,000 frames
CHECK_FRAMES, CHECK_WINDOW = 20_000, 10_000  # frontier policies, counted as `deepq car train` counts
SAND_LIMITS = (0.01, 0.02, 0.05, 1.0)


class CarBatch:
    """``n`` course cars on one map, stepped together with ``SandCarEnv``'s rules."""

    def __init__(self, sand: np.ndarray, n: int) -> None:
        self.sand = sand
        self.width, self.height = sand.shape
        self.signal_table = self._signal_table(sand)
        w, h = self.width, self.height
        x, y, goal_x, goal_y = course_start(w, h)
        self.x, self.y = np.full(n, x), np.full(n, y)
        self.angle = np.zeros(n)
        self.vx, self.vy = np.full(n, ROAD_SPEED), np.zeros(n)
        self.signals = np.zeros((n, 3))
        self.goal_x, self.goal_y = np.full(n, goal_x), np.full(n, goal_y)
        self.last_distance = np.zeros(n)

    def _signal_table(self, sand: np.ndarray) -> np.ndarray:
        """The course's sensor value at every integer point: int(sum of the 20 x 20 square) / 400."""
        w, h = sand.shape
        cum = np.zeros((w + 1, h + 1))
        cum[1:, 1:] = sand.cumsum(0).cumsum(1)
        ix, iy = np.arange(BRUSH, w - BRUSH + 1)[:, None], np.arange(BRUSH, h - BRUSH + 1)[None, :]
        sums = (cum[ix + BRUSH, iy + BRUSH] - cum[ix - BRUSH, iy + BRUSH]
                - cum[ix + BRUSH, iy - BRUSH] + cum[ix - BRUSH, iy - BRUSH])
        table = np.ones((w + 1, h + 1))
        table[BRUSH: w - BRUSH + 1, BRUSH: h - BRUSH + 1] = np.floor(sums + 1e-6) / 400.0
        return table

    def observation(self) -> np.ndarray:
        dx, dy = self.goal_x - self.x, self.goal_y - self.y
        orientation = -np.degrees(np.arctan2(self.vx * dy - self.vy * dx, self.vx * dx + self.vy * dy)) / 180.0
        return np.column_stack([self.signals, orientation, -orientation])

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move every car; return (reward, goal reached, on sand)."""
        w, h = self.width, self.height
        self.x, self.y = self.x + self.vx, self.y + self.vy
        self.angle = self.angle + np.asarray(ROTATIONS)[actions]
        for i, offset in enumerate((0.0, 30.0, -30.0)):
            angle = np.radians(self.angle if offset == 0.0 else np.mod(self.angle + offset, 360))
            sx, sy = SENSOR_DISTANCE * np.cos(angle) + self.x, SENSOR_DISTANCE * np.sin(angle) + self.y
            outside = (sx < 10) | (sx > w - 10) | (sy < 10) | (sy > h - 10)
            inside = self.signal_table[np.clip(sx.astype(int), 0, w), np.clip(sy.astype(int), 0, h)]
            self.signals[:, i] = np.where(outside, 1.0, inside)
        distance = np.sqrt((self.x - self.goal_x) ** 2 + (self.y - self.goal_y) ** 2)
        on_sand = self.sand[np.clip(self.x.astype(int), 0, w - 1), np.clip(self.y.astype(int), 0, h - 1)] > 0
        speed = np.where(on_sand, SAND_SPEED, ROAD_SPEED)
        radians = np.radians(self.angle)
        self.vx, self.vy = speed * np.cos(radians), speed * np.sin(radians)
        reward = np.where(on_sand, -1.0, np.where(distance < self.last_distance, 0.1, -0.2))
        edge = (self.x < EDGE) | (self.x > w - EDGE) | (self.y < EDGE) | (self.y > h - EDGE)
        self.x, self.y = np.clip(self.x, EDGE, w - EDGE), np.clip(self.y, EDGE, h - EDGE)
        reward = np.where(edge, -1.0, reward)
        reached = distance < 100
        self.goal_x = np.where(reached, w - self.goal_x, self.goal_x)
        self.goal_y = np.where(reached, h - self.goal_y, self.goal_y)
        self.last_distance = distance
        return reward, reached, on_sand


class Policies:
    """``n`` deterministic I-H-3 tanh networks, one per row of a flat weight matrix.

    The inputs are the five observation values; with ``memory`` also the last frame's five; with
    ``position`` also the car's pose as ``deepq.car.odometer.pose_features`` gives it (position,
    heading, the goal's side), which a brain can work out exactly with ``Odometer``.
    """

    def __init__(self, hidden: int, memory: bool = False, position: bool = False) -> None:
        self.hidden, self.memory, self.position = hidden, memory, position
        self.inputs = 5 + 5 * memory + 5 * position
        self.size = self.inputs * hidden + hidden + hidden * 3 + 3

    def actions(self, weights: np.ndarray, obs: np.ndarray, previous: np.ndarray, cars: CarBatch) -> np.ndarray:
        h, n, i = self.hidden, len(weights), self.inputs * self.hidden
        inputs = [obs] + [previous] * self.memory
        if self.position:
            inputs.append(pose_features(cars.x, cars.y, cars.angle, cars.goal_x, cars.width, cars.height))
        inputs = np.hstack(inputs)
        w1 = weights[:, :i].reshape(n, self.inputs, h)
        b1 = weights[:, i: i + h]
        w2 = weights[:, i + h: i + 4 * h].reshape(n, h, 3)
        b2 = weights[:, i + 4 * h:]
        hidden = np.tanh(np.einsum("ni,nih->nh", inputs, w1) + b1)
        return np.argmax(np.einsum("nh,nha->na", hidden, w2) + b2, axis=1)

    def steer_to_goal(self) -> np.ndarray:
        """Weights that turn towards the goal unless it lies within ~7 degrees ahead."""
        weights = np.zeros(self.size)
        h, i = self.hidden, self.inputs * self.hidden
        weights[3 * h] = 10.0  # hidden unit 0 = tanh(10 * orientation)
        weights[i + h + 1], weights[i + h + 2] = -5.0, 5.0  # goal to the right (o > 0): turn -20
        weights[i + 4 * h] = 2.0  # straight on while |tanh(10 o)| < 0.4
        return weights


def drive(policies: Policies, weights: np.ndarray, sand: np.ndarray, frames: int, window: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Goals per 10,000 frames, share of frames on sand and mean reward over the last ``window`` frames."""
    cars = CarBatch(sand, len(weights))
    goals, on_sand, reward = np.zeros(len(weights)), np.zeros(len(weights)), np.zeros(len(weights))
    previous = np.zeros((len(weights), 5))
    for frame in range(frames):
        obs = cars.observation()
        r, reached, sandy = cars.step(policies.actions(weights, obs, previous, cars))
        previous = obs
        if frame >= frames - window:
            goals += reached
            on_sand += sandy
            reward += r
    return goals * 10_000 / window, on_sand / window, reward / window


def check_against_env(sand: np.ndarray, frames: int = 3_000) -> None:
    """Drive four policies through ``CarBatch`` and ``SandCarEnv``: observations and rewards must agree."""
    policies = Policies(8)
    rng = np.random.default_rng(0)
    weights = np.vstack([policies.steer_to_goal(), rng.normal(size=(3, policies.size))])
    cars = CarBatch(sand, len(weights))
    envs = [SandCarEnv(*sand.shape) for _ in weights]
    observations = []
    for env in envs:
        env.sand[:] = sand
        observations.append(env.reset()[0])
    for _ in range(frames):
        batch_obs = cars.observation()
        worst = np.abs(batch_obs - np.array(observations)).max()
        if worst > 1e-9:
            raise SystemExit(f"the batch simulator disagrees with SandCarEnv by {worst:g}")
        actions = policies.actions(weights, batch_obs, batch_obs, cars)
        rewards, _, _ = cars.step(actions)
        steps = [env.step(int(a)) for env, a in zip(envs, actions, strict=True)]
        observations = [step[0] for step in steps]
        if any(abs(step[1] - r) > 1e-9 for step, r in zip(steps, rewards, strict=True)):
            raise SystemExit("the batch simulator's rewards disagree with SandCarEnv")


def search(job: tuple[str, int, int, int, int, float, bool, bool]) -> dict:
    """One cross-entropy search on one map; the frontier policies, checked over 20,000 frames."""
    map_name, seed, generations, population, hidden, penalty, memory, position = job
    sand = builtin_map(map_name, 800, 600)
    policies = Policies(hidden, memory, position)
    rng = np.random.default_rng(seed)
    mean, std = policies.steer_to_goal(), np.full(policies.size, 0.5)
    elite = max(population // 10, 2)
    frontier: dict[float, tuple[float, float, np.ndarray]] = {}
    for generation in range(generations):
        lam = penalty ** (generation / max(generations - 1, 1))  # 1 -> penalty, geometrically
        candidates = mean + std * rng.standard_normal((population, policies.size))
        goals, sand_share, reward = drive(policies, candidates, sand, SEARCH_FRAMES, SEARCH_WINDOW)
        fitness = goals - lam * 100 * sand_share + 10 * reward
        for limit in SAND_LIMITS:
            ok = np.flatnonzero(sand_share <= limit)
            if len(ok):
                best = ok[np.argmax(goals[ok])]
                if limit not in frontier or goals[best] > frontier[limit][0]:
                    frontier[limit] = (goals[best], sand_share[best], candidates[best].copy())
        top = candidates[np.argsort(-fitness)[:elite]]
        mean, std = top.mean(axis=0), top.std(axis=0) + 0.02
    limits = sorted(frontier)
    checked = drive(policies, np.vstack([frontier[limit][2] for limit in limits]), sand, CHECK_FRAMES, CHECK_WINDOW)
    return {"map": map_name, "seed": seed,
            "frontier": {limit: (float(checked[0][i]), float(checked[1][i])) for i, limit in enumerate(limits)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=["empty", "strokes", "wall"], choices=["empty", "strokes", "wall"])
    parser.add_argument("--restarts", type=int, default=2, help="independent searches per map (seeds 0, 1, ...)")
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=8, help="hidden units of the searched policies")
    parser.add_argument("--penalty", type=float, default=30.0,
                        help="the last generation's cost per percentage point of frames on sand")
    parser.add_argument("--memory", action="store_true", help="policies also see the last frame's five inputs")
    parser.add_argument("--position", action="store_true",
                        help="policies also see the car's position, heading and goal side (dead reckoning)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    for name in args.maps:
        check_against_env(builtin_map(name, 800, 600))
    print(f"batch simulator checked against SandCarEnv on {', '.join(args.maps)}: every observation "
          "and reward within 1e-9 over 3,000 frames, 4 policies", flush=True)
    jobs = [(m, s, args.generations, args.population, args.hidden, args.penalty, args.memory, args.position)
            for m in args.maps for s in range(args.restarts)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(search, jobs))
    print(f"\n{args.restarts} searches per map, {args.generations} generations of {args.population} "
          f"{Policies(args.hidden, args.memory, args.position).inputs}-{args.hidden}-3 policies; goals per 10k frames (share on sand) over frames 10,000-20,000")
    header = " ".join(f"{'sand <= ' + format(limit, '.0%') if limit < 1 else 'any sand':>16}" for limit in SAND_LIMITS)
    print(f"{'map':>8} {'search':>6} {header}")
    for result in results:
        cells = []
        for limit in SAND_LIMITS:
            if limit in result["frontier"]:
                goals, share = result["frontier"][limit]
                cells.append(f"{f'{goals:.0f} ({share:.1%})':>16}")
            else:
                cells.append(f"{'none found':>16}")
        print(f"{result['map']:>8} {result['seed']:>6} {' '.join(cells)}")


if __name__ == "__main__":
    main()
