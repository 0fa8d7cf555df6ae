"""Intake (受理): the operator's registration page and the grid worker's patrol report."""
