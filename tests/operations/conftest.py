"""The operations page's deployment needs an IRC server: the IRC tests' ngircd."""

from tests.irc.conftest import ngircd

__all__ = ["ngircd"]
