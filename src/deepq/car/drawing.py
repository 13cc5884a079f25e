"""Drawing the sand car's world with pygame surfaces (no window needed)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SAND = (255, 255, 0)
ROAD = (0, 0, 0)
CAR = (230, 230, 230)
SENSOR_COLOURS = ((255, 40, 40), (40, 120, 255), (255, 220, 0))  # front, left, right
GOAL_COLOURS = ((0, 200, 0), (200, 0, 200))  # airport (top-left), downtown (bottom-right)


def draw_onto(surface: Any, env: Any) -> None:
    """Draw the world onto a pygame surface of the map's size (pygame's y points down)."""
    import pygame

    height = env.height
    rgb = np.zeros((env.width, env.height, 3), dtype=np.uint8)
    rgb[env.sand > 0] = SAND
    pygame.surfarray.blit_array(surface, rgb[:, ::-1])
    flip = lambda x, y: (x, height - y)  # noqa: E731
    for (gx, gy), colour in zip(((20, height - 20), (env.width - 20, 20)), GOAL_COLOURS, strict=True):
        active = (gx, gy) == (env.goal_x, env.goal_y)
        pygame.draw.circle(surface, colour, flip(gx, gy), 14 if active else 9, 0 if active else 2)
    # the car: a 20 x 10 rectangle whose bottom-left corner is the position, turned by angle
    radians = math.radians(env.angle)
    cos, sin = math.cos(radians), math.sin(radians)
    corners = [(0, 0), (20, 0), (20, 10), (0, 10)]
    points = [flip(env.x + cx * cos - cy * sin, env.y + cx * sin + cy * cos) for cx, cy in corners]
    pygame.draw.polygon(surface, CAR, points)
    for (sx, sy), colour in zip(env.sensor_points(), SENSOR_COLOURS, strict=True):
        pygame.draw.circle(surface, colour, flip(sx, sy), 5)


def draw_world(env: Any) -> np.ndarray:
    """The world as an (height, width, 3) uint8 array."""
    import pygame

    surface = pygame.Surface((env.width, env.height))
    draw_onto(surface, env)
    return np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2)).copy()
