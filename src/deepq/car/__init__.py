"""The self-driving car of the course: its world (SandCar), its brain (Dqn), and its app."""
