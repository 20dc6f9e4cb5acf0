"""The damage-case workflow: the case page and its actions, in forms and JSON."""
