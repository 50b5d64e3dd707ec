# IRC peers for tests/irc (sourced by scripts/install-peers.sh, which defines apt_install).
# ngircd: the everyday server; inspircd: IRCv3 tags, echo-message, SASL; anope: the
# services behind SASL. miniircd (a server without CAP) and the ircdocs parser vectors
# come from PyPI through the dev extra. The second client in the tests is a raw socket.
apt_install ngircd inspircd anope
