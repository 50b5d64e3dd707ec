# Peers of the deployment recipes (tests/deploy, docs/deploy.md), sourced by
# scripts/install-peers.sh: nginx in front of the HTTP interface (a private instance per
# test, never the system service); systemd for `systemd-analyze verify` on the unit files
# (nothing is started through it); iproute2 for the network namespaces of the split
# deployment.
apt_install nginx systemd iproute2
