# HTTP and WebSocket tests (tests/http, tests/websocket): curl as an independent HTTP
# client, slowhttptest for slow-loris / slow-body abuse.
apt_install curl slowhttptest
