"""Ape-X (Horgan et al., 2018) on Ray: ``deepq train ENV --actors N`` (the ``deepq[ray]`` extra).

N actors, each a Ray actor process stepping its own vector environments at fixed epsilons
(the paper's 0.4^(1 + 7 s / (S - 1)) over S slots: every environment of every actor, or every
actor), send blocks of n-step transitions with the priorities their
copy of the network gives them. The learner is the ordinary training loop (``deepq.train``):
instead of stepping environments it stores the blocks in its one prioritized replay, learns at
the configured replay ratio, and publishes its weights every ``publish_interval`` gradient steps
(one ``ray.put``; an actor fetches a new version when it starts its next block). Each actor has
two blocks in flight, so it keeps stepping while the learner stores the last one. A dead actor
is replaced by a new one with a new seed, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from deepq.agent import DQNAgent
from deepq.cluster import require_ray, start_ray
from deepq.config import DQNConfig
from deepq.envs import ResumableVectorEnv, env_spaces
from deepq.errors import RunError
from deepq.replay import NStepCollector, ReplayBuffer
from deepq.replay.members import with_member_dim

IN_FLIGHT = 2  # blocks each actor is asked for ahead
MAX_RESTARTS = 20  # deaths of one actor slot before the run gives up
BLOCK_TIMEOUT = 180.0  # seconds without any block before the learner gives up on the cluster


def actor_epsilons(count: int, epsilon: float = 0.4, alpha: float = 7.0, envs_each: int = 1) -> list[np.ndarray]:
    """Ape-X's exploration rates (the paper's epsilon 0.4 and alpha 7): of S exploring slots,
    slot s explores with epsilon^(1 + alpha s / (S - 1)). With ``envs_each`` = 1 a slot is an
    actor; with an actor's ``num_envs``, each of its environments is one, as if each were an
    actor of the paper. Returns each actor's rates, one per slot it holds."""
    slots = count * envs_each
    powers = 1 + alpha * np.arange(slots) / max(slots - 1, 1)
    return list((epsilon ** powers).reshape(count, envs_each))


def actor_seed(seed: int, index: int, generation: int) -> int:
    """Actor ``index``'s seed in the run of ``seed``; each replacement (``generation``) a new one."""
    return int(np.random.SeedSequence([seed, index, generation]).generate_state(1)[0] >> 1)


def block_bytes(config: DQNConfig, obs_shape: tuple[int, ...], obs_dtype: Any) -> int:
    """Bytes of one block of transitions in Ray's object store (its rows, at most)."""
    rows = (config.actor_block_steps + config.n_step) * config.num_envs
    return ReplayBuffer.bytes_needed(rows, obs_shape, obs_dtype) + 4 * rows


class Actor:
    """One Ape-X actor (inside a Ray actor process): environments, an epsilon, a copy of the
    learner's network, and the block it fills."""

    def __init__(self, env_id: str, config: dict[str, Any], env_kwargs: dict[str, Any], seed: int,
                 epsilon: np.ndarray) -> None:
        torch.set_num_threads(1)  # one core per actor
        self.config = cfg = DQNConfig.from_dict(config)
        obs_shape, obs_dtype, n_actions = env_spaces(env_id, **env_kwargs)
        self.agent = DQNAgent(obs_shape, n_actions, cfg, torch.device("cpu"), seeds=[seed])
        n = cfg.num_envs
        self.envs = ResumableVectorEnv(env_id, n, seed=seed, backend=cfg.env_backend, **env_kwargs)
        self.nstep = NStepCollector(cfg.n_step, cfg.gamma, n)
        self.block = ReplayBuffer((cfg.actor_block_steps + cfg.n_step) * n, obs_shape, obs_dtype, cfg.gamma)
        self.rng = np.random.default_rng(seed)
        self.epsilon = np.asarray(epsilon, dtype=np.float64)  # one rate, or one per environment
        self.version = -1
        self.obs = self.envs.reset()
        self.episode_return = np.zeros(n)
        self.episode_length = np.zeros(n, dtype=np.int64)

    def load_weights(self, weights: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            self.agent.q_net.flat.copy_(torch.from_numpy(weights["q"]))
            if self.agent.target_net is not None:
                self.agent.target_net.flat.copy_(torch.from_numpy(weights["target"]))

    def collect(self, weights: list[Any], version: int, learned: bool = True) -> dict[str, Any]:
        """``actor_block_steps`` vector steps with the learner's weights of ``version`` (fetched
        from ``weights[0]``, an object reference, when new): the block's transitions, their
        priorities, and the episodes that ended in it. Until the learner has ``learned`` (its
        weights are still the initial ones), the actor acts uniformly at random, as the
        one-process trainer's epsilon 1 does before learning starts."""
        from deepq.train import act_and_step  # the training loop's own act -> step

        if version != self.version:
            import ray

            self.load_weights(ray.get(weights[0]))
            self.version = version
        cfg, block = self.config, self.block
        epsilon = self.epsilon if learned else np.ones_like(self.epsilon)
        block.cursor = block.size = 0
        episodes = []
        for _ in range(cfg.actor_block_steps):
            actions, next_obs, rewards, learn_rewards, terminated, truncated = act_and_step(
                self.agent, self.envs, self.obs, epsilon, [self.rng], cfg.clip_rewards)
            block.add(*self.nstep.push(self.obs, actions[0], learn_rewards, next_obs, terminated, truncated))
            self.episode_return += rewards
            self.episode_length += 1
            done = terminated | truncated
            for i in np.flatnonzero(done):
                episodes.append((float(self.episode_return[i]), int(self.episode_length[i])))
                self.episode_return[i], self.episode_length[i] = 0.0, 0
            self.obs = self.envs.reset_done(done)
        size = block.size
        priorities = (self.agent.priorities(with_member_dim(block.gather(np.arange(size))))[0].numpy()
                      if size else np.zeros(0, dtype=np.float32))
        arrays = (block.obs, block.actions, block.rewards, block.next_obs, block.terminated, block.discounts)
        return {"transitions": tuple(a[:size].copy() for a in arrays), "priorities": priorities,
                "episodes": episodes, "steps": cfg.actor_block_steps * cfg.num_envs,
                "epsilon": float(epsilon.mean())}


class ActorFleet:
    """The learner's side of Ape-X: starts the actors, publishes weights, gathers the blocks,
    and replaces an actor that dies. Stands where the training loop keeps its environments."""

    def __init__(self, env_id: str, config: DQNConfig, env_kwargs: dict[str, Any], seed: int,
                 address: str | None, message: Callable[[str], None]) -> None:
        self.ray = ray = require_ray("deepq train --actors")
        self.env_id, self.config, self.env_kwargs, self.seed = env_id, config, env_kwargs, seed
        self.message = message
        self.count = config.actors
        self.epsilons = actor_epsilons(self.count, config.actor_epsilon, config.actor_alpha,
                                       config.num_envs if config.actor_epsilons == "envs" else 1)
        self.started_ray = start_ray(ray, address, num_cpus=max(self.count, 1))
        try:
            self._check_room()
        except BaseException:
            self.close()
            raise
        self.remote_actor = ray.remote(num_cpus=1, max_restarts=0)(Actor)
        self.handles: list[Any] = [None] * self.count
        self.generations = [0] * self.count
        self.restarts = [0] * self.count
        self.pending: dict[Any, tuple[int, int]] = {}  # object ref -> (actor, its generation)
        self.weights: list[Any] = []
        self.version = -1
        self.learned = False  # whether the published weights have been trained

    def _check_room(self) -> None:
        """Refuse, before any actor starts, a cluster without a core per actor or an object
        store that cannot hold the blocks in flight."""
        resources = self.ray.cluster_resources()
        cpus = int(resources.get("CPU", 0))
        if cpus < self.count:
            raise RunError(f"--actors {self.count} needs {self.count} CPUs but the Ray cluster has {cpus}; "
                           "lower --actors or add nodes (`ray start --address=...`)")
        obs_shape, obs_dtype, _ = env_spaces(self.env_id, **self.env_kwargs)
        needed = self.count * IN_FLIGHT * block_bytes(self.config, obs_shape, obs_dtype)
        store = resources.get("object_store_memory")
        if store is not None and needed > 0.8 * store:
            raise RunError(f"Ape-X's blocks in flight need {needed / 2**20:.0f} MiB of Ray's object store, which "
                           f"holds {store / 2**20:.0f} MiB; lower actor_block_steps or --actors (or start Ray "
                           "with a larger --object-store-memory)")

    # --- weights ---
    def publish(self, agent: DQNAgent, learned: bool = True) -> None:
        """Put the learner's weights in the object store once; actors fetch them at their next
        block (and act at random while they are the initial, not ``learned``, ones)."""
        weights = {"q": agent.q_net.flat.detach().cpu().numpy().copy()}
        if agent.target_net is not None:
            weights["target"] = agent.target_net.flat.detach().cpu().numpy().copy()
        self.weights = [self.ray.put(weights)]
        self.version += 1
        self.learned = learned

    # --- actors ---
    def start(self, agent: DQNAgent, learned: bool) -> None:
        """Publish the first weights (``learned``: a resumed run's) and start every actor."""
        self.publish(agent, learned)
        for i in range(self.count):
            self._spawn(i)

    def _spawn(self, i: int) -> None:
        seed = actor_seed(self.seed, i, self.generations[i])
        self.handles[i] = self.remote_actor.remote(self.env_id, self.config.to_dict(), self.env_kwargs, seed,
                                                   self.epsilons[i])
        for _ in range(IN_FLIGHT):
            self._ask(i)

    def _ask(self, i: int) -> None:
        ref = self.handles[i].collect.remote(self.weights, self.version, self.learned)
        self.pending[ref] = (i, self.generations[i])

    def _replace(self, i: int, error: Exception) -> None:
        self.restarts[i] += 1
        if self.restarts[i] > MAX_RESTARTS:
            raise RunError(f"Ape-X actor {i} died {self.restarts[i]} times (last: {_last_line(error)}); "
                           "check the cluster's nodes (`ray status`), then `deepq resume` the run")
        self.message(f"actor {i} died ({_last_line(error)}); starting a new one (restart {self.restarts[i]})")
        for ref, (j, generation) in list(self.pending.items()):  # its other block is lost with it
            if j == i and generation == self.generations[i]:
                del self.pending[ref]
        self.generations[i] += 1
        self._spawn(i)

    def receive(self, wait: bool) -> list[dict[str, Any]]:
        """The next block, if one is ready (with ``wait``, waiting for it), its actor asked for
        another; one at a time, so the learner's replay ratio holds block by block."""
        ray = self.ray
        ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=BLOCK_TIMEOUT if wait else 0)
        if wait and not ready:
            raise RunError(f"no Ape-X actor sent a block in {BLOCK_TIMEOUT:.0f} s; check that the cluster's nodes "
                           "are up (`ray status`), then `deepq resume` the run")
        blocks = []
        for ref in ready:
            i, generation = self.pending.pop(ref, (None, None))
            if i is None or generation != self.generations[i]:
                continue  # from an actor already replaced
            try:
                blocks.append(ray.get(ref))
            except ray.exceptions.RayActorError as error:
                self._replace(i, error)
                continue
            except ray.exceptions.RayTaskError as error:
                raise RunError(f"Ape-X actor {i} failed: {_last_line(error.cause or error)}") from None
            self._ask(i)
        return blocks

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the actors: how many, and how often each was replaced."""
        return {"actors": self.count, "restarts": list(self.restarts)}

    def group_state_dict(self, k: int) -> dict[str, Any]:
        """The checkpoint's ``envs`` entry (the name the training loop calls for its environments)."""
        return self.state_dict()

    def close(self) -> None:
        """Stop the actors, and the local Ray this run started."""
        for handle in getattr(self, "handles", []):
            if handle is not None:
                self.ray.kill(handle)
        self.handles = []
        self.pending = {}
        if self.started_ray:
            self.ray.shutdown()
            self.started_ray = False


def _last_line(error: BaseException) -> str:
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(error).__name__
