# HTTP and WebSocket tests (tests/http, tests/websocket): curl as an independent HTTP
# client, slowhttptest for slow-loris / slow-body abuse; nghttp2-client (nghttp, h2load) as
# HTTP/2 clients and the HTTP/2 load generator of bench/http.py.
apt_install curl slowhttptest nghttp2-client
