# Peers of the email interface tests (sourced by scripts/install-peers.sh):
# swaks (a real SMTP client, with the Perl modules for TLS and AUTH) drives our server;
# postfix (a real MTA, with smtp-sink for fault injection) receives what we send.
# Postfix asks debconf how to configure itself on install; we run private instances from
# our own config dirs, so preseed "No configuration" to keep the install non-interactive.
if command -v debconf-set-selections >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
apt_install swaks libnet-ssleay-perl libauthen-sasl-perl libio-socket-ssl-perl postfix
