"""What every visitor meets: the home page, health, the language switch and vendored front-end files."""
