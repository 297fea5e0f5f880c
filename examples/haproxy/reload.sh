#!/bin/sh
# Reload HAProxy without losing the weights albflip set: save the servers' state first, HAProxy loads it
# back (server-state-file + load-server-state-from-file in haproxy.cfg).
set -eu
echo "show servers state" | socat stdio /run/haproxy/admin.sock > /var/lib/haproxy/server-state
systemctl reload haproxy
