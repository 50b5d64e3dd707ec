"""Fault tests: real servers killed under real load; what clients see, what is lost."""
