"""The sand-car window (pygame): paint sand, watch the car learn, save and load its brain.

Left mouse button paints sand (a click sets one cell, a drag the course's 20 x 20 brush),
the right button erases. Buttons: clear, save / load (brain), save map / load map (PNG),
pause, speed (x1, x10, max). Saving runs in a background thread: the window never blocks.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from deepq.car.brain import Dqn
from deepq.car.drawing import draw_onto
from deepq.checkpoint import atomic_save
from deepq.envs.sandcar import SandCarEnv, load_map_png, paint_square, save_map_png

PANEL_WIDTH = 220
BUTTONS = ("clear", "save", "load", "save map", "load map", "pause", "speed")
SPEEDS = (("x1", 1), ("x10", 10), ("max", 0))  # 0: as many frames as fit in a 1/60 s tick


class CarApp:
    """The window, the world and the brain; ``tick()`` advances one screen refresh."""

    def __init__(self, map_name: str | None = None, brain: str = "course", load: str | None = None,
                 width: int = 800, height: int = 600, brain_file: str = "last_brain.pth",
                 map_file: str = "sand_map.png", seed: int | None = None) -> None:
        import pygame

        pygame.display.init()  # not pygame.init(): the car needs no sound device
        pygame.font.init()
        pygame.display.set_caption("deepq: the self-driving car")
        self.pygame = pygame
        self.env = SandCarEnv(width, height, map=map_name)
        self.brain = Dqn(5, 3, brain=brain, seed=seed, width=width, height=height)
        self.brain_file, self.map_file = Path(brain_file), Path(map_file)
        if load:
            self.brain.load(load)
        self.screen = pygame.display.set_mode((width + PANEL_WIDTH, height))
        self.font = pygame.font.Font(None, 22)
        self.buttons = {name: pygame.Rect(width + 10, 10 + 38 * i, PANEL_WIDTH - 20, 30)
                        for i, name in enumerate(BUTTONS)}
        self.obs, _ = self.env.reset()
        self.reward = 0.0
        self.frames = 0
        self.goals = 0
        self.paused = False
        self.speed_index = 0
        self.scores: deque[float] = deque(maxlen=PANEL_WIDTH - 20)
        self.status = "paint sand with the left button"
        self._status_lines: tuple[str, list[str]] = ("", [])
        self.running = True
        self._save_thread: threading.Thread | None = None
        self._painting = 0  # 1 while the left button is held, -1 for the right

    # --- the world ---
    def step_world(self, frames: int) -> None:
        """Run ``frames`` frames of the course's loop (observe, act, learn, move)."""
        for _ in range(frames):
            action = self.brain.update(self.reward, self.obs)
            self.obs, self.reward, _, _, info = self.env.step(action)
            self.goals += int(info["goal_reached"])
            self.frames += 1
            if self.frames % 10 == 0:
                self.scores.append(self.brain.score())

    def to_world(self, pos: tuple[int, int]) -> tuple[int, int] | None:
        """Window pixel -> sand index (y up), or None outside the map."""
        px, py = pos
        if not (0 <= px < self.env.width and 0 <= py < self.env.height):
            return None
        return px, self.env.height - 1 - py

    # --- input ---
    def handle_event(self, event: Any) -> None:
        """Mouse painting, buttons and quitting."""
        pygame = self.pygame
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.MOUSEBUTTONDOWN:
            for name, rect in self.buttons.items():
                if rect.collidepoint(event.pos) and event.button == 1:
                    self.press(name)
                    return
            cell = self.to_world(event.pos)
            if cell is None:
                return
            if event.button == 1:
                self._painting = 1
                self.env.sand[cell] = 1.0  # a click sets one cell, as the course does
            elif event.button == 3:
                self._painting = -1
                paint_square(self.env.sand, *cell, value=0.0)
        elif event.type == pygame.MOUSEBUTTONUP:
            self._painting = 0
        elif event.type == pygame.MOUSEMOTION and self._painting:
            cell = self.to_world(event.pos)
            if cell is not None:
                paint_square(self.env.sand, *cell, value=1.0 if self._painting > 0 else 0.0)

    def press(self, name: str) -> None:
        """What each button does."""
        if name == "clear":
            self.env.clear()
            self.status = "sand cleared"
        elif name == "save":
            self.save_brain()
        elif name == "load":
            try:
                self.brain.load(self.brain_file)
                self.status = f"loaded {self.brain_file}"
            except Exception as error:  # shown in the window, never a crash
                self.status = str(error)[:60]
        elif name == "save map":
            save_map_png(self.env.sand, self.map_file)
            self.status = f"map saved to {self.map_file}"
        elif name == "load map":
            try:
                self.env.sand[:] = load_map_png(self.map_file, self.env.width, self.env.height)
                self.status = f"map loaded from {self.map_file}"
            except ValueError as error:
                self.status = str(error)[:60]
        elif name == "pause":
            self.paused = not self.paused
            self.status = "paused" if self.paused else "running"
        elif name == "speed":
            self.speed_index = (self.speed_index + 1) % len(SPEEDS)
            self.status = f"speed {SPEEDS[self.speed_index][0]}"

    def save_brain(self) -> None:
        """Save in a background thread, from a snapshot, so the window keeps running."""
        if self._save_thread is not None and self._save_thread.is_alive():
            self.status = "still saving..."
            return
        snapshot = self.brain.snapshot()
        path = self.brain_file

        def write() -> None:
            atomic_save(snapshot, path)
            self.status = f"brain saved to {path}"

        self.status = "saving..."
        self._save_thread = threading.Thread(target=write, daemon=True)
        self._save_thread.start()

    def wait_for_save(self, timeout: float = 10.0) -> None:
        """Block until a background save is done (for tests and quitting)."""
        if self._save_thread is not None:
            self._save_thread.join(timeout)

    # --- drawing ---
    def draw(self) -> None:
        """Draw the map, the panel, the buttons and the score plot."""
        pygame = self.pygame
        world = self.screen.subsurface((0, 0, self.env.width, self.env.height))
        draw_onto(world, self.env)
        panel = pygame.Rect(self.env.width, 0, PANEL_WIDTH, self.env.height)
        self.screen.fill((40, 40, 48), panel)
        labels = {"pause": "resume" if self.paused else "pause",
                  "speed": f"speed {SPEEDS[self.speed_index][0]}"}
        for name, rect in self.buttons.items():
            pygame.draw.rect(self.screen, (90, 90, 110), rect, border_radius=4)
            text = self.font.render(labels.get(name, name), True, (255, 255, 255))
            self.screen.blit(text, text.get_rect(center=rect.center))
        y = 10 + 38 * len(BUTTONS) + 10
        if self._status_lines[0] != self.status:  # wrapped once per new status, not every frame
            self._status_lines = (self.status, fit_lines(self.status, self.font, PANEL_WIDTH - 20))
        status = self._status_lines[1]
        for line in (f"frames {self.frames}", f"goals {self.goals}", f"score {self.brain.score():.3f}", *status):
            self.screen.blit(self.font.render(line, True, (230, 230, 230)), (self.env.width + 10, y))
            y += 22
        plot = pygame.Rect(self.env.width + 10, y + 10, PANEL_WIDTH - 20, 120)
        pygame.draw.rect(self.screen, (20, 20, 24), plot)
        if len(self.scores) > 1:
            values = np.array(self.scores)
            low, high = min(values.min(), -0.2), max(values.max(), 0.1)
            points = [(plot.left + i, plot.bottom - (v - low) / (high - low + 1e-9) * plot.height)
                      for i, v in enumerate(values)]
            pygame.draw.lines(self.screen, (0, 220, 120), False, points, 2)
        self.screen.blit(self.font.render("score", True, (150, 150, 150)), (plot.left + 2, plot.top + 2))

    def tick(self, budget_seconds: float = 1 / 60) -> None:
        """One screen refresh: events, world frames at the chosen speed, drawing."""
        for event in self.pygame.event.get():
            self.handle_event(event)
        if not self.paused:
            per_tick = SPEEDS[self.speed_index][1]
            if per_tick:
                self.step_world(per_tick)
            else:
                deadline = time.perf_counter() + budget_seconds * 0.9
                while time.perf_counter() < deadline:
                    self.step_world(20)
        self.draw()
        self.pygame.display.flip()

    def screenshot(self, path: str | Path) -> Path:
        """Save the window as a PNG."""
        self.pygame.image.save(self.screen, str(path))
        return Path(path)

    def run(self) -> None:
        """The main loop, at 60 refreshes a second."""
        clock = self.pygame.time.Clock()
        while self.running:
            self.tick()
            clock.tick(60)
        self.wait_for_save()
        self.pygame.quit()


def fit_lines(text: str, font: Any, width: int, max_lines: int = 3) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` pixels, between words (a word wider than
    a line, such as a long path, breaks anywhere); past ``max_lines`` the last line ends in "..."."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        joined = f"{line} {word}" if line else word
        if font.size(joined)[0] <= width:
            line = joined
            continue
        if line:
            lines.append(line)
        line = ""
        for char in word:
            if line and font.size(line + char)[0] > width:
                lines.append(line)
                line = ""
            line += char
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.size(last + "...")[0] > width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last + "..."]
    return lines
