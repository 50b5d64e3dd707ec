# bench/http.py (make bench-web): wrk, the HTTP load generator.
apt_install wrk
