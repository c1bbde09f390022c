"""``make tls``: full against resumed TLS handshakes at the balancer, and where the state lives."""
