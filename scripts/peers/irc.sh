# IRC peers for tests/irc (sourced by scripts/install-peers.sh, which defines apt_install).
# ngircd: the everyday server; inspircd: IRCv3 tags/echo-message; anope: services for SASL;
# ii: an independent real client. miniircd (PyPI, dev extra) is the fallback without apt.
apt_install ngircd inspircd anope ii
